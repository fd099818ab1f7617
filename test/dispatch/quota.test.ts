import { EventsV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { eventually, testKubeConfig } from '../support/kube.ts';
import { create, get, groupService, patch, secret, tokenFor, useDispatch, waitForPhase } from './harness.ts';

/** The operator's calendar runs this far ahead of the real one once a test turns DingTalk's month. */
const calendar = { offsetMs: 0 };
const h = useDispatch({ heldCheckIntervalMs: 500 }, ['--quota-write-interval', '300ms'], {
  wallMs: () => Date.now() + calendar.offsetMs,
});

const fastGrouping = { groupWait: '1s', groupInterval: '1s', repeatInterval: '4h' };
const FINAL = ['Delivered', 'PartiallyDelivered', 'Failed', 'Suppressed', 'NoMatchingRule'];
const HOUR = 3_600_000;

type Usage = { name: string; month: string; calls: number; limit: number; exhaustedAt?: string };
type Condition = { type: string; status: string; reason: string; message: string };

async function usageOf(service: string): Promise<Usage | undefined> {
  const status = (await get(h, 'DingTalkService', service)).status as { usage?: { groups?: Usage[] } };
  return status?.usage?.groups?.[0];
}

async function waitForCalls(service: string, calls: number): Promise<Usage> {
  return eventually(
    async () => {
      const usage = await usageOf(service);
      return usage?.calls === calls ? usage : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
}

const conditionOf = async (service: string, type: string) =>
  ((await get(h, 'DingTalkService', service)).status?.conditions as Condition[] | undefined)?.find(
    (c) => c.type === type,
  );

async function alarm(name: string, source: string): Promise<void> {
  await create(h, 'AlarmEvent', name, { severity: 'critical', title: name, source });
}

/** A group service `name` on a robot of its own, and a rule sending alarms of source `<name>-source` to it. */
async function robotServiceWithRule(name: string): Promise<string> {
  const token = tokenFor(`quota${name}`);
  await groupService(h, name, { token });
  await create(h, 'AlarmRule', `to-${name}`, {
    services: [{ name }],
    match: { sources: [`${name}-source`] },
    grouping: fastGrouping,
  });
  return token;
}

/** Milliseconds from now to the start of next month in China Standard Time (UTC+8), plus an hour. */
function untilNextMonth(now: number): number {
  const shanghai = new Date(now + 8 * HOUR);
  const next = Date.UTC(shanghai.getUTCFullYear(), shanghai.getUTCMonth() + 1, 1) - 8 * HOUR;
  return next - now + HOUR;
}

describe("DingTalk's monthly quota", () => {
  it("counts the month's calls per robot in the service's status, across a restart, and as metrics", async () => {
    const token = await robotServiceWithRule('counted');
    await alarm('counted-1', 'counted-source');
    await waitForPhase(h, 'counted-1', ['Delivered']);
    await alarm('counted-2', 'counted-source');
    await waitForPhase(h, 'counted-2', ['Delivered']);
    const before = await waitForCalls('counted', 2);
    expect(before).toMatchObject({ name: 'ops', limit: 3000, month: expect.stringMatching(/^\d{4}-\d{2}$/) });

    await h.stopOperator();
    h.startOperator();
    await alarm('counted-3', 'counted-source');
    await waitForPhase(h, 'counted-3', ['Delivered']);
    await waitForCalls('counted', 3);
    expect((await h.emulator.control.stats()).robotSends[token]).toBe(3);

    const metrics = await h.manager.context.metrics.registry.getSingleMetricAsString(
      'dingtalk_operator_quota_calls',
    );
    expect(metrics).toContain(
      `dingtalk_operator_quota_calls{namespace="${h.namespace}",service="counted",bucket="robot",target="ops"} 3`,
    );
    expect(metrics).not.toContain(token);
  });

  it('shows a monthlyQuota changed in the spec in status.usage, with no call since', async () => {
    const token = await robotServiceWithRule('raised');
    await alarm('raised-1', 'raised-source');
    await waitForPhase(h, 'raised-1', ['Delivered']);
    expect(await waitForCalls('raised', 1)).toMatchObject({ limit: 3000 });

    const spec = (await get(h, 'DingTalkService', 'raised')).spec as { groups: Record<string, unknown>[] };
    const groups = spec.groups.map((g) => ({ ...g, monthlyQuota: 5000 }));
    await patch(h, 'DingTalkService', 'raised', { spec: { groups } });
    const usage = await eventually(
      async () => {
        const raised = await usageOf('raised');
        return raised?.limit === 5000 ? raised : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(usage).toMatchObject({ calls: 1 });
    expect((await h.emulator.control.stats()).robotSends[token]).toBe(1);
  });

  it("holds alarms while DingTalk says the robot's month is spent, and sends them once the month turns", async () => {
    const token = await robotServiceWithRule('spent');
    await h.emulator.control.putRobot(token, { name: 'ops', monthlyLimit: 1 });
    await alarm('spent-1', 'spent-source');
    await waitForPhase(h, 'spent-1', ['Delivered']);
    await alarm('spent-2', 'spent-source');
    const held = await waitForPhase(h, 'spent-2', ['Held', ...FINAL]);
    expect(held.status?.phase).toBe('Held');
    expect((held.status?.deliveries as Record<string, unknown>[] | undefined)?.[0]).toMatchObject({
      state: 'Held',
      reason: 'QuotaExhausted',
      errcode: '90030',
    });
    const exhausted = await eventually(() => conditionOf('spent', 'QuotaExhausted'), { timeoutMs: 30_000 });
    expect(exhausted).toMatchObject({ status: 'True', reason: 'QuotaExhausted' });
    expect(await conditionOf('spent', 'Ready')).toMatchObject({ status: 'False', reason: 'QuotaExhausted' });
    expect((await conditionOf('spent', 'CredentialsValid'))?.status).toBe('True');
    const spent = await eventually(
      async () => ((await usageOf('spent'))?.exhaustedAt ? usageOf('spent') : undefined),
      {
        timeoutMs: 30_000,
      },
    );
    expect(spent).toMatchObject({ calls: 1, limit: 3000 });

    // Later alarms wait with the held one: no call is spent on a refusal known in advance.
    await alarm('spent-3', 'spent-source');
    expect((await waitForPhase(h, 'spent-3', ['Held', ...FINAL])).status?.phase).toBe('Held');
    expect((await h.emulator.control.stats()).robotSends[token]).toBe(2);

    // The new month's quota takes both held messages.
    await h.emulator.control.putRobot(token, { name: 'ops', monthlyLimit: 10 });
    const turn = untilNextMonth(Date.now());
    await h.emulator.control.advanceClock(turn);
    calendar.offsetMs = turn;
    await waitForPhase(h, 'spent-2', ['Delivered']);
    await waitForPhase(h, 'spent-3', ['Delivered']);
    expect(await h.emulator.control.messages({ robot: token })).toHaveLength(3);
    await eventually(async () => ((await conditionOf('spent', 'QuotaExhausted')) ? undefined : true), {
      timeoutMs: 30_000,
    });
    const events = await testKubeConfig()
      .makeApiClient(EventsV1Api)
      .listNamespacedEvent({ namespace: h.namespace });
    const reasons = events.items.filter((e) => e.regarding?.name === 'spent').map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['QuotaAtRisk', 'QuotaExhausted', 'WithinQuota']));
  });

  it("holds member alarms while DingTalk says the app's API calls are spent, and sends them once monthlyQuota is raised", async () => {
    await h.emulator.control.putApp('quota-app', { clientSecret: 'quota-secret', monthlyLimit: 1 });
    await h.emulator.control.putUser('quota-user', { name: 'Quota User' });
    await secret(h, 'quota-app', { clientSecret: 'quota-secret' });
    const member = {
      clientId: 'quota-app',
      clientSecret: { name: 'quota-app', key: 'clientSecret' },
      members: [{ userId: 'quota-user' }],
    };
    await create(h, 'DingTalkService', 'app-spent', { sendTo: ['Member'], member });
    await create(h, 'AlarmRule', 'to-app-spent', {
      services: [{ name: 'app-spent' }],
      match: { sources: ['app-source'] },
      grouping: fastGrouping,
    });
    await alarm('app-1', 'app-source');
    await waitForPhase(h, 'app-1', ['Delivered']);
    await alarm('app-2', 'app-source');
    const held = await waitForPhase(h, 'app-2', ['Held', ...FINAL]);
    expect((held.status?.deliveries as Record<string, unknown>[] | undefined)?.[0]).toMatchObject({
      state: 'Held',
      reason: 'QuotaExhausted',
      errcode: 'Forbidden.AccessDenied.ApiCountLimitForOrg',
    });
    await eventually(() => conditionOf('app-spent', 'QuotaExhausted'), { timeoutMs: 30_000 });

    // The organisation bought more: DingTalk takes calls again, and the service says so.
    await h.emulator.control.putApp('quota-app', { clientSecret: 'quota-secret', monthlyLimit: 100 });
    await patch(h, 'DingTalkService', 'app-spent', { spec: { member: { ...member, monthlyQuota: 100 } } });
    await waitForPhase(h, 'app-2', ['Delivered']);
    expect(await h.emulator.control.messages({ userId: 'quota-user' })).toHaveLength(2);
    await eventually(
      async () => {
        const status = (await get(h, 'DingTalkService', 'app-spent')).status as { usage?: { app?: Usage } };
        if (status.usage?.app?.limit === 100 && status.usage.app.calls === 2) return true;
        // Thrown, so that a timeout says what the usage last was.
        throw new Error(`usage.app is ${JSON.stringify(status.usage?.app)}`);
      },
      { timeoutMs: 30_000 },
    );
  });
});
