import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KubeUnavailableError } from '../errors.ts';
import type { CustomObject } from '../manager/context.ts';
import type { KubeHttp } from '../runtime/kube-http.ts';
import { createLogger } from '../runtime/logger.ts';
import { DeliveryHealth } from './delivery-health.ts';

/**
 * How often delivery health asks the API server again after a failed apply, on a fake clock. The
 * applies themselves against a real API server are covered by test/dispatch.
 */

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function health(apply: () => Promise<unknown>) {
  const calls: number[] = [];
  const kube = {
    apply: () => {
      calls.push(Date.now());
      return apply();
    },
  } as unknown as KubeHttp;
  // Health is written only for the object it was counted for, so the service exists.
  const ops = {
    apiVersion: 'dingtalk.alarming.io/v1alpha1',
    kind: 'DingTalkService',
    metadata: { namespace: 'ns', name: 'svc', uid: 'uid-svc' },
    spec: { sendTo: ['Group'], groups: [{ name: 'ops' }] },
  } as unknown as CustomObject;
  const sources = { service: () => ops, rule: () => undefined };
  const recorder = new DeliveryHealth(kube, sources, createLogger({ level: 'silent' }), 1_000);
  recorder.start();
  return { recorder, calls };
}

const target = { kind: 'Group' as const, name: 'ops' };

describe('DeliveryHealth', () => {
  it('backs off from an API server that keeps failing instead of asking every interval', async () => {
    const { recorder, calls } = health(() => Promise.reject(new KubeUnavailableError('down')));
    recorder.sent('ns', 'svc', target, Date.now());
    await vi.advanceTimersByTimeAsync(120_000);
    // Every second would be 120; doubling from 1 s up to a minute is 7 or 8.
    expect(calls.length).toBeGreaterThanOrEqual(6);
    expect(calls.length).toBeLessThanOrEqual(9);
    const gaps = calls.slice(1).map((at, i) => at - (calls[i] as number));
    expect(gaps.at(-1)).toBeGreaterThan(gaps[0] as number);
    await recorder.stop();
  });

  it("waits at least the API server's Retry-After, and writes at the next interval once it succeeds", async () => {
    let failing = true;
    const { recorder, calls } = health(() =>
      failing ? Promise.reject(new KubeUnavailableError('busy', 30)) : Promise.resolve({}),
    );
    const start = Date.now();
    recorder.sent('ns', 'svc', target, start);
    await vi.advanceTimersByTimeAsync(29_000);
    expect(calls).toHaveLength(1);
    failing = false;
    await vi.advanceTimersByTimeAsync(3_000);
    expect(calls).toHaveLength(2);
    expect((calls[1] as number) - (calls[0] as number)).toBeGreaterThanOrEqual(30_000);

    recorder.sent('ns', 'svc', target, Date.now());
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toHaveLength(3);
    await recorder.stop();
  });
});
