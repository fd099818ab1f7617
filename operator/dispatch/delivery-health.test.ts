import { describe, expect, it } from 'vitest';
import { FakeClock, settled } from '../../test/support/fake-clock.ts';
import { KubeUnavailableError } from '../errors.ts';
import type { CustomObject } from '../manager/context.ts';
import type { KubeHttp } from '../runtime/kube-http.ts';
import { createLogger } from '../runtime/logger.ts';
import { APPLY_CONCURRENCY, DeliveryHealth } from './delivery-health.ts';

/**
 * How often delivery health asks the API server again after a failed apply, and how many applies it
 * has in flight, on a fake clock. The applies themselves against a real API server are covered by
 * test/dispatch.
 */

function health(apply: () => Promise<unknown>) {
  const clock = new FakeClock();
  const calls: number[] = [];
  const kube = {
    apply: () => {
      calls.push(clock.monotonicMs());
      return apply();
    },
  } as unknown as KubeHttp;
  // Health is written only for the object it was counted for, so the services exist.
  const service = (namespace: string, name: string) =>
    ({
      apiVersion: 'dingtalk.alarming.io/v1alpha1',
      kind: 'DingTalkService',
      metadata: { namespace, name, uid: `uid-${name}` },
      spec: { sendTo: ['Group'], groups: [{ name: 'ops' }] },
    }) as unknown as CustomObject;
  const sources = { service, rule: () => undefined };
  const recorder = new DeliveryHealth(kube, sources, createLogger({ level: 'silent' }), {
    intervalMs: 1_000,
    clock,
  });
  recorder.start();
  return { recorder, calls, clock };
}

const target = { kind: 'Group' as const, name: 'ops' };

describe('DeliveryHealth', () => {
  it('backs off from an API server that keeps failing instead of asking every interval', async () => {
    const { recorder, calls, clock } = health(() => Promise.reject(new KubeUnavailableError('down')));
    recorder.sent('ns', 'svc', target, clock.wallMs());
    await clock.advance(120_000);
    // Every second would be 120; doubling from 1 s up to a minute is 7 or 8.
    expect(calls.length).toBeGreaterThanOrEqual(6);
    expect(calls.length).toBeLessThanOrEqual(9);
    const gaps = calls.slice(1).map((at, i) => at - (calls[i] as number));
    expect(gaps.at(-1)).toBeGreaterThan(gaps[0] as number);
    await recorder.stop();
  });

  it("waits at least the API server's Retry-After, and writes at the next interval once it succeeds", async () => {
    let failing = true;
    const { recorder, calls, clock } = health(() =>
      failing ? Promise.reject(new KubeUnavailableError('busy', 30)) : Promise.resolve({}),
    );
    recorder.sent('ns', 'svc', target, clock.wallMs());
    await clock.advance(29_000);
    expect(calls).toHaveLength(1);
    failing = false;
    await clock.advance(3_000);
    expect(calls).toHaveLength(2);
    expect((calls[1] as number) - (calls[0] as number)).toBeGreaterThanOrEqual(30_000);

    recorder.sent('ns', 'svc', target, clock.wallMs());
    await clock.advance(1_000);
    expect(calls).toHaveLength(3);
    await recorder.stop();
  });

  it(`applies a storm's worth of changed services ${APPLY_CONCURRENCY} at a time, and flushes no second time while they run`, async () => {
    const held: (() => void)[] = [];
    let inFlight = 0;
    let most = 0;
    const { recorder, calls, clock } = health(() => {
      most = Math.max(most, ++inFlight);
      return new Promise<void>((resolve) => held.push(resolve)).finally(() => inFlight--);
    });
    const services = 50;
    for (let i = 0; i < services; i++) recorder.sent('ns', `svc-${i}`, target, clock.wallMs());
    await clock.advance(1_000);
    expect(inFlight).toBe(APPLY_CONCURRENCY);
    // Further intervals pass while the applies hang: the flush under way is not joined by another.
    await clock.advance(10_000);
    expect(calls).toHaveLength(APPLY_CONCURRENCY);
    while (held.length > 0) {
      for (const answer of held.splice(0)) answer();
      await settled();
    }
    expect(calls).toHaveLength(services);
    expect(most).toBe(APPLY_CONCURRENCY);
    await recorder.stop();
  });

  it("writes a pool's robots' health by name, and drops robots no longer in the pool", async () => {
    const clock = new FakeClock();
    const bodies: { status: { delivery?: { groups?: { robots?: unknown[] }[] } } }[] = [];
    const kube = { apply: async (_path: string, body: (typeof bodies)[number]) => bodies.push(body) };
    let robots = [{ name: 'a' }, { name: 'b' }];
    const service = () =>
      ({
        metadata: { namespace: 'ns', name: 'svc', uid: 'uid-svc' },
        spec: { sendTo: ['Group'], groups: [{ name: 'ops', robots }] },
      }) as unknown as CustomObject;
    const recorder = new DeliveryHealth(
      kube as unknown as KubeHttp,
      { service, rule: () => undefined },
      createLogger({ level: 'silent' }),
      { intervalMs: 1_000, clock },
    );
    recorder.start();
    const id = { namespace: 'ns', service: 'svc', group: 'ops' };
    const at = Date.parse('2030-01-01T00:00:00Z');
    recorder.robotSent({ ...id, robot: 'a' }, at);
    const mark = {
      ...id,
      robot: 'b',
      trouble: 'Disabled' as const,
      errcode: '400102',
      since: at,
      retryAt: at + 600_000,
      fingerprint: 'f',
    };
    recorder.robotTrouble(mark, at);
    await clock.advance(1_000);
    expect(bodies.at(-1)?.status.delivery?.groups?.[0]?.robots).toEqual([
      { name: 'a', healthy: true, lastDelivery: { time: '2030-01-01T00:00:00Z', result: 'Succeeded' } },
      {
        name: 'b',
        healthy: false,
        reason: 'Disabled',
        errcode: '400102',
        since: '2030-01-01T00:00:00Z',
        retryAt: '2030-01-01T00:10:00Z',
        lastDelivery: { time: '2030-01-01T00:00:00Z', result: 'Failed', errcode: '400102' },
      },
    ]);
    robots = [{ name: 'a' }];
    recorder.robotSent({ ...id, robot: 'a' }, at + 1_000);
    await clock.advance(1_000);
    expect(
      bodies.at(-1)?.status.delivery?.groups?.[0]?.robots?.map((r) => (r as { name: string }).name),
    ).toEqual(['a']);
    expect(JSON.stringify(bodies)).not.toContain('fingerprint');
    await recorder.stop();
  });
});
