import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AlarmEventStatus } from '../api/index.ts';
import { KubeApiError } from '../errors.ts';
import type { StatusWriter } from '../runtime/status.ts';
import { EventStatusStore } from './event-status.ts';

/** A writer whose first patch is slow, so a second write would overtake it if allowed to run alongside. */
function slowFirstWriter() {
  const landed: AlarmEventStatus[] = [];
  let calls = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const writer = {
    async patch(_metadata: unknown, patch: unknown) {
      const delay = calls++ === 0 ? 50 : 1;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, delay));
      inFlight--;
      landed.push(structuredClone(patch) as AlarmEventStatus);
      return 'patched' as const;
    },
  } as unknown as StatusWriter;
  return { writer, landed, maxInFlight: () => maxInFlight };
}

/** A writer that records each patch and answers at once. */
function recordingWriter() {
  const landed: AlarmEventStatus[] = [];
  const writer = {
    async patch(_metadata: unknown, patch: unknown) {
      landed.push(structuredClone(patch) as AlarmEventStatus);
      return 'patched' as const;
    },
  } as unknown as StatusWriter;
  return { writer, landed };
}

const delivery = {
  ruleNamespace: 'ns',
  rule: 'r',
  service: 's',
  targetKind: 'Group' as const,
  targetName: 'ops',
};

describe('EventStatusStore', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('counts the events with changes not written yet, those waiting for a retry included', async () => {
    vi.useFakeTimers();
    let failing = true;
    const writer = {
      async patch() {
        if (failing) throw new KubeApiError(500, { message: 'etcd timeout' });
        return 'patched' as const;
      },
    } as unknown as StatusWriter;
    const store = new EventStatusStore({ writer, logger: pino({ level: 'silent' }) });
    for (const name of ['a', 'b']) {
      store.track(`ns/${name}`, { name, namespace: 'ns', generation: 1 }, {});
      store.update(`ns/${name}`, (status) => {
        status.deliveries = [{ ...delivery, state: 'Pending' }];
      });
    }
    expect(store.unwritten).toBe(2);
    await vi.advanceTimersByTimeAsync(100);
    expect(store.unwritten).toBe(2);
    failing = false;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(store.unwritten).toBe(0);
  });

  it('writes changes made in quick succession as one patch', async () => {
    vi.useFakeTimers();
    const { writer, landed } = recordingWriter();
    const store = new EventStatusStore({ writer, logger: pino({ level: 'silent' }) });
    const key = 'ns/disk-full';
    store.track(key, { name: 'disk-full', namespace: 'ns', generation: 1 }, {});
    store.update(key, (status) => {
      status.deliveries = [{ ...delivery, state: 'Pending' }];
    });
    await vi.advanceTimersByTimeAsync(5);
    store.update(key, (status) => {
      status.deliveries = [{ ...delivery, state: 'Delivering', msgUuid: 'u1' }];
    });
    await vi.advanceTimersByTimeAsync(1_000);

    expect(landed).toHaveLength(1);
    expect(landed[0]?.deliveries?.[0]?.state).toBe('Delivering');
  });

  it('writes at once what a sender waits for, taking the changes before it along', async () => {
    vi.useFakeTimers();
    const { writer, landed } = recordingWriter();
    const store = new EventStatusStore({ writer, logger: pino({ level: 'silent' }) });
    const key = 'ns/disk-full';
    store.track(key, { name: 'disk-full', namespace: 'ns', generation: 1 }, {});
    store.update(key, (status) => {
      status.deliveries = [{ ...delivery, state: 'Pending' }];
    });
    store.update(key, (status) => {
      status.deliveries = [{ ...delivery, state: 'Delivering', msgUuid: 'u1' }];
    });
    const persisted = store.persist([key]);
    await vi.advanceTimersByTimeAsync(0);

    expect(landed).toHaveLength(1);
    await expect(persisted).resolves.toBe(true);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(landed).toHaveLength(1);
  });

  it('writes one event at a time, so the newest status is the one that lands last', async () => {
    vi.useFakeTimers();
    const { writer, landed, maxInFlight } = slowFirstWriter();
    const store = new EventStatusStore({ writer, logger: pino({ level: 'silent' }) });
    const key = 'ns/disk-full';
    const id = {
      ruleNamespace: 'ns',
      rule: 'r',
      service: 's',
      targetKind: 'Member' as const,
      targetName: 'ghost',
    };
    store.track(key, { name: 'disk-full', namespace: 'ns', generation: 1 }, {});
    store.update(key, (status) => {
      status.deliveries = [{ ...id, state: 'Delivering' }];
    });
    const first = store.persist([key]);
    // Asked for while the first write is still on its way.
    store.update(key, (status) => {
      status.deliveries = [{ ...id, state: 'Failed', reason: 'MembersUnresolved' }];
    });
    const second = store.persist([key]);
    await vi.advanceTimersByTimeAsync(100);
    expect(await first).toBe(true);
    expect(await second).toBe(true);

    expect(maxInFlight()).toBe(1);
    const last = landed.at(-1);
    expect(last?.deliveries?.[0]).toMatchObject({ state: 'Failed', reason: 'MembersUnresolved' });
    expect(last?.phase).toBe('Failed');
  });

  it('stops retrying a status the API server rejects as invalid, and tries again once it changes', async () => {
    let calls = 0;
    const writer = {
      async patch() {
        calls++;
        if (calls === 1) throw new KubeApiError(422, { reason: 'Invalid', message: 'too many deliveries' });
        return 'patched' as const;
      },
    } as unknown as StatusWriter;
    vi.useFakeTimers();
    const store = new EventStatusStore({ writer, logger: pino({ level: 'silent' }) });
    const key = 'ns/huge';
    store.track(key, { name: 'huge', namespace: 'ns' }, {});
    store.update(key, (status) => {
      status.deliveries = [{ ...delivery, state: 'Pending' }];
    });
    expect(await store.persist([key])).toBe(false);
    // Longer than any retry backoff of a write that failed for a passing reason.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toBe(1);

    store.update(key, (status) => {
      status.deliveries = [];
    });
    expect(await store.persist([key])).toBe(true);
    expect(calls).toBe(2);
  });
});
