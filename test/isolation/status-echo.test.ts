import { CoreV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { create, get, secret } from '../dispatch/harness.ts';
import { eventually, testKubeConfig } from '../support/kube.ts';
import { useTenants } from './tenants.ts';

const t = useTenants();

/**
 * The attacker may create DingTalkServices in the victim's namespace and read their status, but not the
 * victim's Secrets or ConfigMaps (a common split: developers manage alerting, not credentials). Pointing
 * a service at those objects must not make status read them out.
 */
describe('status echo', () => {
  it("a DingTalkService pointed at someone else's Secret and ConfigMap reports the problem without quoting them", async () => {
    await secret(t.victim, 'db-credentials', {
      url: 'https://db-primary.corp.example:5432/robot/send?access_token=s3cr3t',
      password: 'hunter2-hunter2',
    });
    await testKubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespacedConfigMap({
        namespace: t.victim.namespace,
        body: {
          metadata: { name: 'app-config' },
          data: { settings: 'db_password=hunter2,api_key=k-8f3e\nx,y\n' },
        },
      });
    // The app's credentials are right, so the member side gets as far as reading the members.
    await t.emulator.control.putApp('dingprobe', { clientSecret: 'hunter2-hunter2' });
    await create(t.victim, 'DingTalkService', 'probe', {
      sendTo: ['Group', 'Member'],
      groups: [{ name: 'probe', webhook: { name: 'db-credentials', key: 'url' } }],
      member: {
        clientId: 'dingprobe',
        clientSecret: { name: 'db-credentials', key: 'password' },
        membersFrom: { name: 'app-config', key: 'settings' },
      },
    });

    const status = await eventually(
      async () => {
        const service = await get(t.victim, 'DingTalkService', 'probe');
        const conditions = (service.status?.conditions ?? []) as { type: string; status: string }[];
        return conditions.some((c) => c.type === 'Ready' && c.status === 'False')
          ? service.status
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const text = JSON.stringify(status);
    expect(text).toContain('WebhookHostNotAllowed');
    expect(text).toContain('header row needs a userId or a mobile column');
    for (const fragment of [
      'db-primary',
      'corp.example',
      '5432',
      's3cr3t',
      'hunter2',
      'db_password',
      'api_key',
      'k-8f3e',
    ])
      expect(text).not.toContain(fragment);
  });
});
