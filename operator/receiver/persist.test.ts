import { describe, expect, it } from 'vitest';
import type { AlarmEventSpec } from '../api/index.ts';
import { KubeApiError } from '../errors.ts';
import { NamespaceOverRateError } from './errors.ts';
import type { ReceivedAlarm } from './intake.ts';
import { persist, RecentWrites } from './persist.ts';
import type { AlarmEventStore } from './store.ts';

function alarms(count: number): ReceivedAlarm[] {
  return Array.from({ length: count }, (_, i) => ({
    path: `alerts[${i}]`,
    name: `fp-${i}`,
    spec: { severity: 'warning', title: `a${i}`, state: 'firing' } as AlarmEventSpec,
  }));
}

/** A store whose writes finish only when the test lets them. */
class GatedStore implements AlarmEventStore {
  inFlight = 0;
  mostInFlight = 0;
  created: string[] = [];
  refuse = new Set<string>();

  async create({ name }: { name: string }): Promise<'created' | 'exists'> {
    this.inFlight++;
    this.mostInFlight = Math.max(this.mostInFlight, this.inFlight);
    await new Promise((resolve) => setImmediate(resolve));
    this.inFlight--;
    if (this.refuse.has(name)) throw KubeApiError.fromResponse(422, '{"message":"spec.title: Invalid"}');
    this.created.push(name);
    return 'created';
  }

  async resolve(): Promise<'resolved' | 'missing'> {
    return 'missing';
  }
}

describe('persist', () => {
  it('writes at most `concurrency` AlarmEvents at a time', async () => {
    const store = new GatedStore();
    const outcome = await persist(store, 'ns', alarms(100), {}, { concurrency: 16 });
    expect(store.mostInFlight).toBe(16);
    expect(outcome.written).toHaveLength(100);
    expect(outcome.left).toBe(0);
  });

  it('writes one round of `concurrency` AlarmEvents even when the deadline passed before writing began', async () => {
    const store = new GatedStore();
    const outcome = await persist(
      store,
      'ns',
      alarms(100),
      {},
      { concurrency: 16, deadline: 1_000, now: () => 2_000 },
    );
    expect(store.created).toHaveLength(16);
    expect(outcome.written).toHaveLength(16);
    expect(outcome.left).toBe(84);
  });

  it('sets aside an alarm the API server refuses and writes the others', async () => {
    const store = new GatedStore();
    store.refuse.add('fp-3');
    const outcome = await persist(store, 'ns', alarms(10), {}, { concurrency: 4 });
    expect(outcome.refused.map((r) => r.alarm.name)).toEqual(['fp-3']);
    expect(store.created).toHaveLength(9);
  });

  it('remembers what it wrote per namespace, so a repost costs no call', async () => {
    const store = new GatedStore();
    const recent = new RecentWrites({ maxEntries: 100, ttlMs: 60_000 });
    await persist(store, 'ns', alarms(5), {}, { concurrency: 4, recent });
    const again = await persist(store, 'ns', alarms(5), {}, { concurrency: 4, recent });
    expect(again.written.every((w) => w.result === 'exists')).toBe(true);
    expect(store.created).toHaveLength(5);
    // Another namespace's AlarmEvents of the same names are its own.
    await persist(store, 'other', alarms(5), {}, { concurrency: 4, recent });
    expect(store.created).toHaveLength(10);
  });

  it('stops writing when the namespace may write no more, and a repost of what it wrote costs nothing', async () => {
    const store = new GatedStore();
    const recent = new RecentWrites({ maxEntries: 100, ttlMs: 60_000 });
    let allowance = 6;
    const mayWrite = () => allowance-- > 0;
    const first = await persist(store, 'ns', alarms(10), {}, { concurrency: 4, recent, mayWrite });
    expect(first.written).toHaveLength(6);
    expect(first.left).toBe(4);
    expect(first.stoppedBy).toBeInstanceOf(NamespaceOverRateError);

    allowance = 4;
    const again = await persist(store, 'ns', alarms(10), {}, { concurrency: 4, recent, mayWrite });
    expect(again.left).toBe(0);
    expect(again.written.filter((w) => w.result === 'created')).toHaveLength(4);
    expect(store.created).toHaveLength(10);
  });
});
