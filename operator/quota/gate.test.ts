import { describe, expect, it } from 'vitest';
import type { CustomObject } from '../manager/context.ts';
import { QuotaGate, type QuotaTarget } from './gate.ts';
import { QuotaLedger } from './ledger.ts';
import { holdingStep } from './policy.ts';

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
    services: () => [service],
  });
  return { ledger, gate: new QuotaGate(ledger, lookup) };
}

const group = { service: 'alerts', kind: 'Group', name: 'ops' } as const;
const members = { service: 'alerts', kind: 'Member' } as const;
const held = (gate: QuotaGate, target: QuotaTarget, severity: 'critical' | 'warning' | 'info') =>
  holdingStep(gate.stepsFor('team-a', target) ?? new Set(), { severity, state: 'firing' });
const robot = { namespace: 'team-a', service: 'alerts', bucket: { kind: 'Robot', group: 'ops' } } as const;

describe('QuotaGate', () => {
  it("widens a rule's digests by the factor once any of its targets' buckets is half spent", () => {
    const { ledger, gate } = setup();
    ledger.count(robot, 4);
    expect(gate.groupIntervalFactor('team-a', ['alerts'], () => [group, members])).toBe(1);
    ledger.count(robot);
    expect(gate.groupIntervalFactor('team-a', ['alerts'], () => [group, members])).toBe(3);
    expect(gate.groupIntervalFactor('team-a', ['alerts'], () => [members])).toBe(1);
  });

  it("applies each target's own bucket", () => {
    const { ledger, gate } = setup();
    ledger.count(robot, 8);
    expect(held(gate, group, 'warning')).toBe('CriticalOnly');
    expect(held(gate, members, 'warning')).toBeUndefined();
  });

  it("takes DingTalk's word that the month is spent as the whole quota used", () => {
    const { ledger, gate } = setup();
    ledger.exhausted(robot);
    expect(held(gate, group, 'info')).toBe('CriticalOnly');
    expect(held(gate, group, 'critical')).toBeUndefined();
  });

  it('holds nothing back for a service without a policy', () => {
    const { ledger, gate } = setup(null);
    ledger.count(robot, 10);
    expect(gate.stepsFor('team-a', group)).toBeUndefined();
    expect(gate.groupIntervalFactor('team-a', ['alerts'], () => [group])).toBe(1);
  });
});
