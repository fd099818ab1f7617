import { describe, expect, it } from 'vitest';
import { eventually } from '../support/kube.ts';
import { create, get, groupService, patch, tokenFor, useDispatch, waitForPhase } from './harness.ts';

const HOUR = 3_600_000;

/**
 * The operator's calendar stands mid-month (the 15th, noon in China Standard Time, of next month), so
 * the projection does not depend on the day the test runs.
 */
function toMidMonth(now: number): number {
  const shanghai = new Date(now + 8 * HOUR);
  return Date.UTC(shanghai.getUTCFullYear(), shanghai.getUTCMonth() + 1, 15, 12) - 8 * HOUR - now;
}
const offsetMs = toMidMonth(Date.now());
const h = useDispatch({}, ['--quota-write-interval', '300ms'], { wallMs: () => Date.now() + offsetMs });

type Delivery = { state: string; reason?: string };
type Condition = { type: string; status: string; lastTransitionTime: string };

const FINAL = ['Delivered', 'PartiallyDelivered', 'Failed', 'Suppressed', 'NoMatchingRule'];

async function raise(name: string, severity: 'critical' | 'warning' | 'info'): Promise<Delivery> {
  await create(h, 'AlarmEvent', name, { severity, title: name, source: 'policy-source' });
  const event = await waitForPhase(h, name, FINAL);
  return (event.status?.deliveries as Delivery[] | undefined)?.[0] as Delivery;
}

/** Resolves an alarm and returns its entry once the resolved notification is decided. */
async function resolve(name: string): Promise<Delivery> {
  await patch(h, 'AlarmEvent', name, { spec: { state: 'resolved', endsAt: new Date().toISOString() } });
  return eventually(
    async () => {
      const status = (await get(h, 'AlarmEvent', name)).status as {
        deliveries?: Delivery[];
        phase?: string;
        conditions?: { type: string }[];
      };
      // Resolved is set as the entries re-open for the resolved notification.
      const reopened = status?.conditions?.some((c) => c.type === 'Resolved');
      const entry = status?.deliveries?.[0];
      return reopened && entry && FINAL.includes(status.phase ?? '') ? entry : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
}

async function callsCounted(calls: number): Promise<void> {
  await eventually(
    async () => {
      const status = (await get(h, 'DingTalkService', 'thrifty')).status as {
        usage?: { groups?: { calls: number }[] };
      };
      return status?.usage?.groups?.[0]?.calls === calls ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
}

const conditions = async () =>
  ((await get(h, 'DingTalkService', 'thrifty')).status?.conditions ?? []) as Condition[];

describe('quotaPolicy', () => {
  it('holds back info alarms, then resolved notifications, then all but critical alarms, and reports QuotaAtRisk before QuotaExhausted', async () => {
    const token = tokenFor('quotapolicy');
    await groupService(h, 'thrifty', { token });
    // Eight calls a month: digests widen from 2, info is held back from 4, resolved from 6, and the last
    // call is kept for critical alarms.
    await patch(h, 'DingTalkService', 'thrifty', {
      spec: {
        groups: [{ name: 'ops', webhook: { name: 'thrifty-robot', key: 'webhook' }, monthlyQuota: 8 }],
        quotaPolicy: {
          widenDigestsAt: 25,
          digestIntervalFactor: 2,
          holdInfoAt: 50,
          skipResolvedAt: 75,
          criticalReserve: 1,
        },
      },
    });
    await create(h, 'AlarmRule', 'to-thrifty', {
      services: [{ name: 'thrifty' }],
      match: { sources: ['policy-source'] },
      grouping: { groupBy: ['...'], groupWait: '1s', groupInterval: '1s', repeatInterval: '4h' },
    });

    expect((await raise('c1', 'critical')).state).toBe('Delivered');
    expect((await raise('c2', 'critical')).state).toBe('Delivered');
    expect((await raise('i1', 'info')).state).toBe('Delivered');
    expect(await resolve('c1')).toMatchObject({ state: 'Delivered' });
    await callsCounted(4);
    // Half the month's calls spent: info alarms are no longer sent.
    expect(await raise('i2', 'info')).toMatchObject({ state: 'Suppressed', reason: 'QuotaPolicy' });
    expect((await raise('w1', 'warning')).state).toBe('Delivered');
    expect((await raise('c3', 'critical')).state).toBe('Delivered');
    await callsCounted(6);
    // Three quarters spent: resolved notifications are skipped.
    expect(await resolve('w1')).toMatchObject({ state: 'Suppressed', reason: 'QuotaPolicy' });
    expect((await raise('w2', 'warning')).state).toBe('Delivered');
    await callsCounted(7);
    const atRisk = await eventually(
      async () => (await conditions()).find((c) => c.type === 'QuotaAtRisk' && c.status === 'True'),
      { timeoutMs: 30_000 },
    );
    expect((await conditions()).find((c) => c.type === 'QuotaExhausted')).toBeUndefined();
    // Only the reserve is left: warnings wait no more, the critical alarm goes out from it.
    expect(await raise('w3', 'warning')).toMatchObject({ state: 'Suppressed', reason: 'QuotaPolicy' });
    expect((await raise('c4', 'critical')).state).toBe('Delivered');
    await callsCounted(8);
    const exhausted = await eventually(
      async () => (await conditions()).find((c) => c.type === 'QuotaExhausted' && c.status === 'True'),
      { timeoutMs: 30_000 },
    );
    expect(Date.parse(exhausted.lastTransitionTime)).toBeGreaterThanOrEqual(
      Date.parse(atRisk.lastTransitionTime),
    );
    expect((await h.emulator.control.stats()).robotSends[token]).toBe(8);
  });
});
