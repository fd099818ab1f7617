import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ALARM_EVENT_PLURAL, GROUP, VERSION } from '../../operator/api/index.ts';
import { eventually, kubectl } from '../support/kube.ts';
import { create, type DispatchHarness, get, groupService, tokenFor, useDispatch } from './harness.ts';

type Condition = { type: string; status: string; reason: string; message: string };

async function condition(h: DispatchHarness, rule: string, type: string, status: string) {
  return eventually(async () => {
    const conditions = (await get(h, 'AlarmRule', rule)).status?.conditions as Condition[] | undefined;
    const found = conditions?.find((c) => c.type === type);
    return found?.status === status ? found : undefined;
  });
}

describe('AlarmRule controller', () => {
  const h = useDispatch();

  it('reports a missing DingTalkService by name and turns Ready once it exists', async () => {
    await create(h, 'AlarmRule', 'needs-service', { services: [{ name: 'later' }] });
    const notReady = await condition(h, 'needs-service', 'Ready', 'False');
    expect(notReady.reason).toBe('ServiceNotFound');
    expect(notReady.message).toContain('later');

    await groupService(h, 'later', { token: tokenFor('later') });
    await condition(h, 'needs-service', 'Ready', 'True');
    await kubectl([
      'wait',
      '-n',
      h.namespace,
      '--for=condition=Ready',
      '--timeout=30s',
      'alarmrule/needs-service',
    ]);
  });

  it('names a group the service does not have', async () => {
    await groupService(h, 'one-group', { token: tokenFor('one-group'), groupName: 'ops' });
    await create(h, 'AlarmRule', 'wrong-group', {
      services: [{ name: 'one-group', sendTo: ['Group'], groups: ['nope'] }],
    });
    const notReady = await condition(h, 'wrong-group', 'Ready', 'False');
    expect(notReady.reason).toBe('TargetNotFound');
    expect(notReady.message).toContain('nope');
  });

  it('reports a template syntax error with its line and column', async () => {
    await groupService(h, 'templated', { token: tokenFor('templated') });
    await create(h, 'AlarmRule', 'bad-template', {
      services: [{ name: 'templated' }],
      message: { title: 'Disk', body: 'line one\n{% if alarm.severity %}\nunclosed' },
    });
    const invalid = await condition(h, 'bad-template', 'TemplatesValid', 'False');
    expect(invalid.reason).toBe('TemplateInvalid');
    expect(invalid.message).toMatch(/spec\.message\.body/);
    expect(invalid.message).toMatch(/line \d+/);
    expect((await condition(h, 'bad-template', 'Ready', 'False')).reason).toBe('TemplateInvalid');
  });
});

describe('finished AlarmEvents', () => {
  // A 1-minute TTL makes the sweeper look every 6 s.
  const h = useDispatch({}, ['--event-ttl', '1m']);

  it('are deleted once resolved and finished longer ago than the event TTL, recently finished ones are kept', async () => {
    for (const name of ['old-finished', 'recent-finished']) {
      await create(h, 'AlarmEvent', name, {
        severity: 'info',
        title: name,
        source: 'nowhere',
        state: 'resolved',
      });
    }
    // NoMatchingRule is final: dispatch marks both finished and resolved now; back-date one past the TTL.
    const finished = await eventually(async () => {
      const { status } = await get(h, 'AlarmEvent', 'old-finished');
      const conditions = status?.conditions as { type: string }[] | undefined;
      return status?.finishedAt && conditions?.some((c) => c.type === 'Resolved') ? conditions : undefined;
    });
    const twoMinutesAgo = new Date(Date.now() - 120_000).toISOString();
    await h.api.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        namespace: h.namespace,
        plural: ALARM_EVENT_PLURAL,
        name: 'old-finished',
        body: {
          status: {
            finishedAt: twoMinutesAgo,
            conditions: finished.map((c) => ({ ...c, lastTransitionTime: twoMinutesAgo })),
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await eventually(
      async () =>
        await get(h, 'AlarmEvent', 'old-finished').then(
          () => undefined,
          (err: { code?: number }) => (err.code === 404 ? true : undefined),
        ),
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect((await get(h, 'AlarmEvent', 'recent-finished')).status?.finishedAt).toBeDefined();
  });
});
