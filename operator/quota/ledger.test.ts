import { describe, expect, it } from 'vitest';
import type { CustomObject } from '../manager/context.ts';
import { QuotaLedger } from './ledger.ts';

const robot = { kind: 'Robot', group: 'ops' } as const;
const call = { namespace: 'team-a', service: 'alerts', bucket: robot };

function setup(status?: unknown, monthlyQuota = 100) {
  const clock = { now: Date.parse('2026-12-10T04:00:00Z') };
  const service: CustomObject = {
    metadata: { name: 'alerts', namespace: 'team-a', uid: 'uid-1' },
    spec: { sendTo: ['Group'], groups: [{ name: 'ops', monthlyQuota }] },
    status,
  };
  const changes: string[] = [];
  const ledger = new QuotaLedger({
    timeZone: 'Asia/Shanghai',
    now: () => clock.now,
    service: (namespace, name) => (namespace === 'team-a' && name === 'alerts' ? service : undefined),
    services: () => [service],
  });
  ledger.onChange((namespace, name) => changes.push(`${namespace}/${name}`));
  return { clock, service, ledger, changes };
}

describe('QuotaLedger', () => {
  it('writes usage again when the spec changes its limit, with no call counted since', () => {
    const spent = { name: 'ops', month: '2026-12', calls: 2, limit: 1, exhaustedAt: '2026-12-10T03:00:00Z' };
    const { ledger, service } = setup({ usage: { groups: [spent] } }, 1);
    ledger.refresh();
    expect(ledger.takeDirty()).toEqual([]);
    // The organisation bought more: monthlyQuota raised while nothing is sent.
    service.spec = { sendTo: ['Group'], groups: [{ name: 'ops', monthlyQuota: 100 }] };
    ledger.refresh();
    expect(ledger.takeDirty()).toEqual(['["team-a","alerts"]']);
    expect(ledger.usage('team-a', 'alerts')).toEqual({
      groups: [{ name: 'ops', month: '2026-12', calls: 2, limit: 100 }],
    });
  });

  it('writes usage again when the spec drops a group it counted', () => {
    const { ledger, service } = setup({
      usage: { groups: [{ name: 'ops', month: '2026-12', calls: 2, limit: 100 }] },
    });
    service.spec = { sendTo: ['Group'], groups: [{ name: 'db', monthlyQuota: 100 }] };
    ledger.refresh();
    expect(ledger.takeDirty()).toEqual(['["team-a","alerts"]']);
    expect(ledger.usage('team-a', 'alerts').groups?.map((g) => g.name)).toEqual(['db']);
  });

  it('counts calls per service and bucket, and writes them as status.usage', () => {
    const { ledger } = setup();
    ledger.count(call);
    ledger.count(call, 2);
    ledger.count({ ...call, namespace: 'team-b' });
    expect(ledger.takeDirty()).toEqual(['["team-a","alerts"]', '["team-b","alerts"]']);
    expect(ledger.usage('team-a', 'alerts')).toEqual({
      groups: [{ name: 'ops', month: '2026-12', calls: 3, limit: 100 }],
    });
  });

  it('keeps nothing for a service it only reports on, with no call counted or recorded this month', () => {
    const { ledger } = setup();
    expect(ledger.reports('team-a', 'alerts').map((r) => [r.calls, r.limit, r.state])).toEqual([
      [0, 100, 'Within'],
    ]);
    expect([...ledger.all()]).toEqual([]);
    ledger.count(call);
    expect([...ledger.all()].map((s) => [s.service, s.reports[0]?.calls])).toEqual([['alerts', 1]]);
  });

  it("keeps a service it reports on whose status records this month's calls", () => {
    const { ledger } = setup({
      usage: { groups: [{ name: 'ops', month: '2026-12', calls: 40, limit: 100 }] },
    });
    expect(ledger.report('team-a', 'alerts', robot).calls).toBe(40);
    expect([...ledger.all()].map((s) => [s.service, s.reports[0]?.calls])).toEqual([['alerts', 40]]);
  });

  it("goes on from the month's count in status after a restart", () => {
    const { ledger } = setup({
      usage: { groups: [{ name: 'ops', month: '2026-12', calls: 40, limit: 100 }] },
    });
    ledger.count(call);
    expect(ledger.report('team-a', 'alerts', robot).calls).toBe(41);
  });

  it("starts from zero when status holds another month's count", () => {
    const { ledger } = setup({
      usage: { groups: [{ name: 'ops', month: '2026-11', calls: 99, limit: 100 }] },
    });
    expect(ledger.report('team-a', 'alerts', robot).calls).toBe(0);
  });

  it("turns the month at midnight in DingTalk's time zone", () => {
    const { ledger, clock, changes } = setup();
    ledger.count(call, 100);
    ledger.refresh();
    expect(ledger.report('team-a', 'alerts', robot).state).toBe('Exhausted');
    clock.now = Date.parse('2026-12-31T15:59:59Z');
    expect(ledger.report('team-a', 'alerts', robot).month).toBe('2026-12');
    clock.now = Date.parse('2026-12-31T16:00:00Z');
    ledger.takeDirty();
    changes.length = 0;
    ledger.refresh();
    expect(ledger.report('team-a', 'alerts', robot)).toMatchObject({
      month: '2027-01',
      calls: 0,
      state: 'Within',
    });
    expect(changes).toEqual(['team-a/alerts']);
    expect(ledger.takeDirty()).toEqual(['["team-a","alerts"]']);
  });

  it('projects exhaustion and tells listeners when a bucket becomes at risk, then exhausted', () => {
    const { ledger, changes } = setup();
    ledger.count(call, 10);
    ledger.refresh();
    // 10 calls in 9.5 days of December: about 1 a day, 90 more last past the month's end; 50 run out
    // as fast again: 9.5 days on.
    expect(ledger.report('team-a', 'alerts', robot).state).toBe('Within');
    ledger.count(call, 40);
    expect(changes).toEqual([]);
    ledger.refresh();
    const atRisk = ledger.report('team-a', 'alerts', robot);
    expect(atRisk.state).toBe('AtRisk');
    expect(new Date(atRisk.projectedExhaustion ?? 0).toISOString()).toBe('2026-12-19T16:00:00.000Z');
    ledger.count(call, 50);
    ledger.refresh();
    expect(ledger.report('team-a', 'alerts', robot).state).toBe('Exhausted');
    // Within at first is no news; at risk and exhausted are.
    expect(changes).toEqual(['team-a/alerts', 'team-a/alerts']);
  });

  it("keeps DingTalk's spent answer until the limit changes", () => {
    const { ledger, service } = setup();
    ledger.exhausted(call);
    expect(ledger.report('team-a', 'alerts', robot)).toMatchObject({ calls: 0, state: 'Exhausted' });
    expect(ledger.usage('team-a', 'alerts').groups?.[0]?.exhaustedAt).toBe('2026-12-10T04:00:00Z');
    service.spec = { sendTo: ['Group'], groups: [{ name: 'ops', monthlyQuota: 500 }] };
    expect(ledger.report('team-a', 'alerts', robot).state).toBe('Within');
  });

  it('starts afresh for a service re-created under the same name', () => {
    const { ledger, service } = setup();
    ledger.count(call, 5);
    service.metadata = { ...service.metadata, uid: 'uid-2' };
    expect(ledger.report('team-a', 'alerts', robot).calls).toBe(0);
  });
});
