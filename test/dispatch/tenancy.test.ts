import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ALARM_EVENT_PLURAL, GROUP, VERSION } from '../../operator/api/index.ts';
import { eventually } from '../support/kube.ts';
import {
  create,
  get,
  groupService,
  inNamespace,
  patch,
  tokenFor,
  useDispatch,
  waitForPhase,
} from './harness.ts';

const h = useDispatch({ heldCheckIntervalMs: 1_000 }, [], { tenants: 2 });

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

describe("an alarm whose ledger holds another tenant's entry", () => {
  it("still sends your rule's alarm when a same-named rule of another namespace has a finished entry there", async () => {
    const [a, b] = h.namespaces as [string, string];
    const teamA = inNamespace(h, a);
    const token = tokenFor('inherited');
    await groupService(teamA, 'ops-inherited', { token, groupName: 'inherited' });
    await create(teamA, 'AlarmRule', 'to-inherited', {
      services: [{ name: 'ops-inherited' }],
      match: { sources: ['inherited-source'] },
      grouping: { groupWait: '10s', groupInterval: '1s', repeatInterval: '4h' },
    });
    await create(teamA, 'AlarmEvent', 'inherited', {
      severity: 'critical',
      title: 'Inherited ledger',
      source: 'inherited-source',
    });
    const own = await eventually(async () => {
      const [entry] = deliveriesOf(await get(teamA, 'AlarmEvent', 'inherited'));
      return entry?.state === 'Pending' ? entry : undefined;
    });

    // While no operator runs, the ledger gets an entry naming rule b/to-inherited for the same target, finished
    // (as an operator whose rules reached across namespaces left it, or anyone allowed to write the status).
    // Only the rule's namespace tells it from a/to-inherited; read at start, it must neither finish nor hide a's.
    await h.stopOperator();
    await h.api.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        namespace: a,
        plural: ALARM_EVENT_PLURAL,
        name: 'inherited',
        body: {
          status: {
            deliveries: [own, { ...own, ruleNamespace: b, state: 'Suppressed', reason: 'Suspended' }],
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    h.startOperator();

    const done = await waitForPhase(teamA, 'inherited', FINAL, 30_000);
    expect(done.status?.phase).toBe('Delivered');
    expect(deliveriesOf(done)).toEqual([
      expect.objectContaining({ ruleNamespace: a, rule: 'to-inherited', state: 'Delivered' }),
      expect.objectContaining({ ruleNamespace: b, rule: 'to-inherited', state: 'Suppressed' }),
    ]);
    expect(await h.emulator.control.messages({ robot: token })).toHaveLength(1);
  });
});

describe('a robot shared by two tenants', () => {
  it("signs each tenant's alarms with that tenant's secret: one tenant's wrong secret holds only its own alarms, and health lands in each tenant's service", async () => {
    const [a, b] = h.namespaces as [string, string];
    const good = inNamespace(h, a);
    const wrong = inNamespace(h, b);
    const token = tokenFor('sharedops');
    const robotSecret = `SEC${'e'.repeat(64)}`;
    await groupService(good, 'shared', { token, groupName: 'ops', secret: robotSecret });
    await groupService(wrong, 'shared', {
      token,
      groupName: 'ops',
      secret: robotSecret,
      operatorSecret: `SEC${'f'.repeat(64)}`,
    });
    const rule = {
      services: [{ name: 'shared' }],
      match: { sources: ['shared-robot'] },
      grouping: fastGrouping,
    };
    await create(wrong, 'AlarmRule', 'to-shared', rule);
    await create(good, 'AlarmRule', 'to-shared', rule);
    for (let i = 0; i < 3; i++) {
      const alarm = (team: string) => ({
        severity: 'critical',
        title: `${team} alarm ${i}`,
        source: 'shared-robot',
      });
      await create(wrong, 'AlarmEvent', `alarm-${i}`, alarm('wrong'));
      await create(good, 'AlarmEvent', `alarm-${i}`, alarm('good'));
    }
    for (let i = 0; i < 3; i++) {
      const delivered = await waitForPhase(good, `alarm-${i}`, ['Held', ...FINAL]);
      expect(delivered.status?.phase).toBe('Delivered');
      const held = await waitForPhase(wrong, `alarm-${i}`, ['Held', ...FINAL]);
      expect(held.status?.phase).toBe('Held');
      expect(deliveriesOf(held)[0]).toMatchObject({ ruleNamespace: b, state: 'Held' });
    }
    const texts = (await h.emulator.control.messages({ robot: token })).map((m) => m.text).join('\n');
    for (let i = 0; i < 3; i++) expect(texts).toContain(`good alarm ${i}`);
    expect(texts).not.toContain('wrong alarm');

    // Health: the refusal is on record in the tenant that caused it, and only there.
    const refused = await eventually(async () => {
      const service = await get(wrong, 'DingTalkService', 'shared');
      return (service.status?.lastFailure as { errcode?: string } | undefined)?.errcode ? service : undefined;
    });
    expect(refused.status?.lastFailure).toMatchObject({
      errcode: '310000',
      target: { kind: 'Group', name: 'ops' },
    });
    const fine = await eventually(async () => {
      const service = await get(good, 'DingTalkService', 'shared');
      return service.status?.lastSuccess ? service : undefined;
    });
    expect(fine.status?.lastFailure).toBeUndefined();
    const conditions = (fine.status?.conditions ?? []) as { type: string; status: string }[];
    const ready = conditions.find((c) => c.type === 'Ready');
    expect(ready?.status).toBe('True');
  });
});

describe('test messages', () => {
  it("share the robot's budget with alarms: a test beyond it waits for a slot, and each test reads differently", async () => {
    const token = tokenFor('testbudget');
    await groupService(h, 'budgeted', { token, groupName: 'budgeted', rateLimitPerMinute: 2 });
    await create(h, 'AlarmRule', 'to-budgeted', {
      services: [{ name: 'budgeted' }],
      match: { sources: ['budget-source'] },
      grouping: fastGrouping,
    });
    await create(h, 'AlarmEvent', 'spends-one', {
      severity: 'warning',
      title: 'Spends one',
      source: 'budget-source',
    });
    await waitForPhase(h, 'spends-one', ['Delivered']);
    const annotate = (value: string) =>
      patch(h, 'DingTalkService', 'budgeted', {
        metadata: { annotations: { 'dingtalk.alarming.io/test': value } },
      });
    await annotate('first');
    await eventually(async () => {
      const service = await get(h, 'DingTalkService', 'budgeted');
      return service.status?.lastHandledTest === 'first' ? service : undefined;
    });
    await annotate('second');
    // The budget (2 a minute) is spent: the second test waits for the window to move on.
    const second = await eventually(
      async () => {
        const service = await get(h, 'DingTalkService', 'budgeted');
        return service.status?.lastHandledTest === 'second' ? service : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 1_000 },
    );
    expect(second.status?.lastTest).toMatchObject({ result: 'Succeeded' });
    const messages = await h.emulator.control.messages({ robot: token });
    expect(messages).toHaveLength(3);
    expect((messages[2]?.receivedAt ?? 0) - (messages[0]?.receivedAt ?? 0)).toBeGreaterThanOrEqual(60_000);
    expect(messages[1]?.text).toContain('request first');
    expect(messages[2]?.text).toContain('request second');
    expect((await h.emulator.control.stats()).shownDuplicates).toBe(0);
  }, 240_000);
});
