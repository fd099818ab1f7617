import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { settled } from '../../test/support/fake-clock.ts';
import { EVENT_CONCURRENCY, EventRecorder, MAX_QUEUED_EVENTS } from './events.ts';
import type { KubeHttp } from './kube-http.ts';

/**
 * How many Event creates the recorder has in flight while its callers go on without waiting. No time
 * is involved: the creates hang until the test answers them. The Events themselves against a real API
 * server: test/runtime/status-events.test.ts.
 */

function heldApi() {
  const held: (() => void)[] = [];
  let inFlight = 0;
  let most = 0;
  const kube = {
    post: () => {
      most = Math.max(most, ++inFlight);
      return new Promise<void>((resolve) => held.push(resolve)).finally(() => inFlight--);
    },
  } as unknown as KubeHttp;
  const recorder = new EventRecorder({
    kube,
    reportingController: 'dingtalk.alarming.io/test',
    reportingInstance: 'test',
    logger: pino({ level: 'silent' }),
  });
  return { recorder, held, inFlight: () => inFlight, most: () => most };
}

const service = (i: number) => ({
  apiVersion: 'dingtalk.alarming.io/v1alpha1',
  kind: 'DingTalkService',
  metadata: { name: `svc-${i}`, namespace: 'ns', uid: `uid-${i}` },
});
const ready = { type: 'Normal', reason: 'Ready', action: 'Validate', note: 'ready' } as const;

describe('EventRecorder', () => {
  it(`creates at most ${EVENT_CONCURRENCY} Events at once however many transitions come together`, async () => {
    const api = heldApi();
    const recorded = Array.from({ length: 50 }, (_, i) => api.recorder.record(service(i), ready));
    await settled();
    expect(api.inFlight()).toBe(EVENT_CONCURRENCY);
    while (api.held.length > 0) {
      for (const answer of api.held.splice(0)) answer();
      await settled();
    }
    expect(await Promise.all(recorded)).toEqual(recorded.map(() => true));
    expect(api.most()).toBe(EVENT_CONCURRENCY);
  });

  it('drops an Event rather than queue more than MAX_QUEUED_EVENTS behind an API server that does not answer', async () => {
    const api = heldApi();
    const waiting = EVENT_CONCURRENCY + MAX_QUEUED_EVENTS;
    const recorded = Array.from({ length: waiting }, (_, i) => api.recorder.record(service(i), ready));
    await settled();
    expect(await api.recorder.record(service(waiting), ready)).toBe(false);
    while (api.held.length > 0) {
      for (const answer of api.held.splice(0)) answer();
      await settled();
    }
    expect((await Promise.all(recorded)).every(Boolean)).toBe(true);
  });
});
