import { describe, expect, it } from 'vitest';
import { create, groupService, inNamespace, tokenFor, useDispatch, waitForPhase } from './harness.ts';

const h = useDispatch({}, [], { tenants: 2 });

type Deliveries = { ruleNamespace?: string; rule?: string; state: string; reason?: string }[];
const deliveriesOf = (event: { status?: Record<string, unknown> }) =>
  (event.status?.deliveries ?? []) as Deliveries;

const fastGrouping = { groupWait: '1s', groupInterval: '1s', repeatInterval: '4h' };
const FINAL = ['Delivered', 'PartiallyDelivered', 'Failed', 'Suppressed', 'NoMatchingRule'];

describe('two tenants using the same names', () => {
  it("records each delivery under its rule's namespace: a suspended rule of the same name elsewhere suppresses nothing of yours", async () => {
    const [a, b] = h.namespaces as [string, string];
    const teamA = inNamespace(h, a);
    const teamB = inNamespace(h, b);
    const tokenA = tokenFor('ledgera');
    const tokenB = tokenFor('ledgerb');
    await groupService(teamA, 'ops', { token: tokenA });
    await groupService(teamB, 'ops', { token: tokenB });
    const rule = { services: [{ name: 'ops' }], match: { sources: ['same-source'] }, grouping: fastGrouping };
    await create(teamB, 'AlarmRule', 'to-ops', { ...rule, suspend: true });
    await create(teamA, 'AlarmRule', 'to-ops', rule);
    const alarm = { severity: 'critical', title: 'Disk almost full', source: 'same-source' };
    await create(teamB, 'AlarmEvent', 'disk', alarm);
    await create(teamA, 'AlarmEvent', 'disk', alarm);

    const inA = await waitForPhase(teamA, 'disk', FINAL);
    const inB = await waitForPhase(teamB, 'disk', FINAL);
    expect(inA.status?.phase).toBe('Delivered');
    expect(deliveriesOf(inA)).toEqual([
      expect.objectContaining({ ruleNamespace: a, rule: 'to-ops', state: 'Delivered' }),
    ]);
    expect(inB.status?.phase).toBe('Suppressed');
    expect(deliveriesOf(inB)).toEqual([
      expect.objectContaining({ ruleNamespace: b, rule: 'to-ops', state: 'Suppressed', reason: 'Suspended' }),
    ]);
    expect(await h.emulator.control.messages({ robot: tokenA })).toHaveLength(1);
    expect(await h.emulator.control.messages({ robot: tokenB })).toHaveLength(0);
  });
});
