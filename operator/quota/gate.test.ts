import { describe, expect, it } from 'vitest';
import type { CustomObject } from '../manager/context.ts';
import { QuotaGate } from './gate.ts';
import { QuotaLedger } from './ledger.ts';

const quotaPolicy = {
  widenDigestsAt: 50,
  digestIntervalFactor: 3,
  holdInfoAt: 60,
  skipResolvedAt: 70,
  criticalReserve: 2,
};

function setup(policy: unknown = quotaPolicy) {
  const service: CustomObject = {
    metadata: { name: 'alerts', namespace: 'team-a', uid: 'uid-1' },
    spec: {
      sendTo: ['Group', 'Member'],
      groups: [{ name: 'ops', monthlyQuota: 10 }],
      member: { monthlyQuota: 100 },
      ...(policy !== null && { quotaPolicy: policy }),
    },
  };
  const lookup = (namespace: string, name: string) =>
    namespace === 'team-a' && name === 'alerts' ? service : undefined;
  const ledger = new QuotaLedger({
    timeZone: 'Asia/Shanghai',
    now: () => Date.parse('2026-12-10T04:00:00Z'),
    service: lookup,
  });
  return { ledger, gate: new QuotaGate(ledger, lookup) };
}

const group = { service: 'alerts', kind: 'Group', name: 'ops' } as const;
const members = { service: 'alerts', kind: 'Member' } as const;
const robot = { namespace: 'team-a', service: 'alerts', bucket: { kind: 'Robot', group: 'ops' } } as const;

describe('QuotaGate', () => {
  it("widens a rule's digests by the factor once any of its targets' buckets is half spent", () => {
    const { ledger, gate } = setup();
    ledger.count(robot, 4);
    expect(gate.groupIntervalFactor('team-a', [group, members])).toBe(1);
    ledger.count(robot);
    expect(gate.groupIntervalFactor('team-a', [group, members])).toBe(3);
    expect(gate.groupIntervalFactor('team-a', [members])).toBe(1);
  });

  it("applies each target's own bucket", () => {
    const { ledger, gate } = setup();
    ledger.count(robot, 8);
    expect(gate.holdingStep('team-a', group, { severity: 'warning', state: 'firing' })).toBe('CriticalOnly');
    expect(gate.holdingStep('team-a', members, { severity: 'warning', state: 'firing' })).toBeUndefined();
  });

  it("takes DingTalk's word that the month is spent as the whole quota used", () => {
    const { ledger, gate } = setup();
    ledger.exhausted(robot);
    expect(gate.holdingStep('team-a', group, { severity: 'info', state: 'firing' })).toBe('CriticalOnly');
    expect(gate.holdingStep('team-a', group, { severity: 'critical', state: 'firing' })).toBeUndefined();
  });

  it('holds nothing back for a service without a policy', () => {
    const { ledger, gate } = setup(null);
    ledger.count(robot, 10);
    expect(gate.holdingStep('team-a', group, { severity: 'info', state: 'resolved' })).toBeUndefined();
    expect(gate.groupIntervalFactor('team-a', [group])).toBe(1);
  });
});
