import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { CustomObject } from '../manager/context.ts';
import type { KubeHttp } from '../runtime/kube-http.ts';
import { DeliveryHealth } from './delivery-health.ts';

function service(namespace: string, name: string, uid: string, status?: unknown): CustomObject {
  return {
    apiVersion: 'dingtalk.alarming.io/v1alpha1',
    kind: 'DingTalkService',
    metadata: { namespace, name, uid },
    spec: { sendTo: ['Group'], groups: [] },
    ...(status !== undefined && { status }),
  } as CustomObject;
}

describe('DeliveryHealth of re-created objects', () => {
  function healthWith() {
    const objects = new Map<string, CustomObject>();
    const applied: { path: string; body: { status?: { deliveries?: { sent: number } } } }[] = [];
    const kube = {
      apply: async (path: string, body: (typeof applied)[number]['body']) => {
        applied.push({ path, body });
        return {};
      },
    } as unknown as KubeHttp;
    const health = new DeliveryHealth(
      kube,
      {
        service: (ns, name) => objects.get(`${ns}/${name}`),
        rule: (ns, name) => objects.get(`rule:${ns}/${name}`),
      },
      pino({ level: 'silent' }),
    );
    return { objects, applied, health };
  }

  it('starts a re-created service from its own counters, and writes none of the old one’s to it', async () => {
    const { objects, applied, health } = healthWith();
    const target = { kind: 'Group' as const, name: 'g0' };
    objects.set('team-a/ops', service('team-a', 'ops', 'uid-1', { deliveries: { sent: 7 } }));
    health.sent('team-a', 'ops', target, 0);
    objects.set('team-a/ops', service('team-a', 'ops', 'uid-2'));
    await health.stop();
    expect(applied).toEqual([]);
    health.sent('team-a', 'ops', target, 1);
    await health.stop();
    expect(applied.map((a) => a.body.status?.deliveries?.sent)).toEqual([1]);
  });

  it('forgets the health of services deleted since', async () => {
    const { objects, applied, health } = healthWith();
    objects.set('team-a/ops', service('team-a', 'ops', 'uid-old'));
    health.serviceSuppressed('team-a', 'ops');
    objects.delete('team-a/ops');
    health.prune();
    objects.set('team-a/ops', service('team-a', 'ops', 'uid-new'));
    await health.stop();
    expect(applied).toEqual([]);
  });

  it('writes a rule’s counters as its status, and nothing of whose they are', async () => {
    const { objects, applied, health } = healthWith();
    objects.set('rule:team-a/page', { ...service('team-a', 'page', 'uid-r'), kind: 'AlarmRule' });
    health.rule('team-a', 'page', { matched: 1 });
    await health.stop();
    expect(applied.map((a) => a.body.status)).toEqual([
      { counters: { matched: 1, notified: 0, suppressed: 0, failed: 0 } },
    ]);
  });
});
