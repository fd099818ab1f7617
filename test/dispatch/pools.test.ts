import { describe, expect, it } from 'vitest';
import { rankRobots } from '../../operator/delivery/robot-pool.ts';
import { stickyKeyOf } from '../../operator/dispatch/pool-routing.ts';
import type { RecordedMessage } from '../emulator/schemas.ts';
import { busiestMinute } from '../support/busiest-minute.ts';
import { eventually } from '../support/kube.ts';
import { create, type DispatchHarness, get, list, secret, tokenFor, useDispatch } from './harness.ts';

// A failed robot gets its trial after 3 s instead of DingTalk's ten minutes.
// A robot refused or blocked is skipped for BLOCK_MS, then tried again: long enough for its status to be
// written while it is skipped, on a loaded machine too.
const BLOCK_MS = 10_000;
const h = useDispatch({ blockMs: BLOCK_MS, healthIntervalMs: 300 });

const ROBOTS = ['r0', 'r1', 'r2'];

/** Three emulator robots in one DingTalk group, and a service whose group pools them; a rule sending to it. */
async function pool(h: DispatchHarness, name: string): Promise<Record<string, string>> {
  const tokens: Record<string, string> = {};
  for (const robot of ROBOTS) {
    tokens[robot] = tokenFor(`${name}${robot}`.replaceAll('-', ''));
    await h.emulator.control.putRobot(tokens[robot], { name: 'ops' });
    await secret(h, `${name}-${robot}`, {
      webhook: `${h.emulator.url}/robot/send?access_token=${tokens[robot]}`,
    });
  }
  await create(h, 'DingTalkService', name, {
    sendTo: ['Group'],
    groups: [
      {
        name: 'ops',
        robots: ROBOTS.map((robot) => ({
          name: robot,
          webhook: { name: `${name}-${robot}`, key: 'webhook' },
        })),
      },
    ],
  });
  await create(h, 'AlarmRule', name, {
    services: [{ name }],
    match: { sources: [name] },
    grouping: { groupBy: ['alertname'], groupWait: '1s', groupInterval: '1s', repeatInterval: '4h' },
  });
  await eventually(async () => {
    const conditions = (await get(h, 'AlarmRule', name)).status?.conditions as {
      type: string;
      status: string;
    }[];
    return conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
  });
  return tokens;
}

/** Alarms named `${prefix}-${i}`, each in an alarm group of its own (its alertname) unless `group` says. */
async function raise(
  h: DispatchHarness,
  prefix: string,
  from: number,
  to: number,
  group = (i: number) => `${prefix}-${i}`,
) {
  const names: string[] = [];
  for (let i = from; i < to; i++) names.push(`${prefix}-${i}`);
  await Promise.all(
    names.map((name, k) =>
      create(h, 'AlarmEvent', name, {
        severity: 'warning',
        title: `${name} is down`,
        source: prefix.split('-')[0],
        labels: { alertname: group(from + k), instance: name },
      }),
    ),
  );
  return names;
}

/** `count` alarm group names (alertnames) of the pool `name` whose first-ranked robot is `robot`. */
function groupsRankedFirst(name: string, robot: string, count: number): string[] {
  const found: string[] = [];
  const rule = { namespace: h.namespace, name };
  const target = { service: name, kind: 'Group' as const, name: 'ops', names: ['ops'] };
  for (let i = 0; found.length < count; i++) {
    const alertname = `${name}-ranked-${i}`;
    const key = stickyKeyOf({ rule, target, groupLabels: { alertname } });
    if (
      rankRobots(
        key,
        ROBOTS.map((r) => ({ name: r })),
      )[0]?.name === robot
    )
      found.push(alertname);
  }
  return found;
}

async function delivered(h: DispatchHarness, names: string[]) {
  return eventually(
    async () => {
      const events = (await list(h, 'AlarmEvent')).filter((e) => names.includes(e.metadata.name));
      if (events.length === names.length && events.every((e) => e.status?.phase === 'Delivered'))
        return events;
      // A timeout then says which alarms were not delivered, and where they stood.
      const open = events.filter((e) => e.status?.phase !== 'Delivered');
      throw new Error(
        `${events.length} of ${names.length} raised, not delivered: ${JSON.stringify(open.slice(0, 3).map((e) => ({ name: e.metadata.name, status: e.status })))}`,
      );
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
}

async function messagesOf(tokens: Record<string, string>) {
  const byRobot: Record<string, RecordedMessage[]> = {};
  for (const [robot, token] of Object.entries(tokens))
    byRobot[robot] = await h.emulator.control.messages({ robot: token });
  return byRobot;
}

/** The messages that name the alarm: every alarm must be in exactly one. */
const carrying = (messages: RecordedMessage[], name: string) =>
  messages.filter((m) => new RegExp(`${name} is down`).test(m.text));

type RobotHealth = { name: string; healthy: boolean; reason?: string; errcode?: string; retryAt?: string };
async function robotHealth(service: string): Promise<RobotHealth[]> {
  const status = (await get(h, 'DingTalkService', service)).status as {
    delivery?: { groups?: { name: string; robots?: RobotHealth[] }[] };
  };
  return status.delivery?.groups?.find((g) => g.name === 'ops')?.robots ?? [];
}

/** Every request a robot got was shown or recognised as a retry: none was answered "too fast". */
async function expectNoThrottleAnswer(tokens: Record<string, string>, shown: number) {
  const stats = await h.emulator.control.stats();
  const requests = Object.values(tokens).reduce((sum, token) => sum + (stats.robotSends[token] ?? 0), 0);
  expect(requests).toBe(shown + stats.duplicatesSuppressed);
  expect(stats.shownDuplicates).toBe(0);
}

describe('a group with a pool of robots', () => {
  it('spreads a storm over all its robots, each within 20 a minute, every alarm delivered once', async () => {
    const tokens = await pool(h, 'spread');
    // 15 alarm groups ranked first on each robot. Groups hashed at random put more than 20 on one robot in
    // about one run in eight; with the alarms arriving over seconds (a loaded machine), that robot sends 20
    // one by one and its next waits out the minute, past this test's bound.
    const groups = ROBOTS.flatMap((robot) => groupsRankedFirst('spread', robot, 15));
    const names = await raise(h, 'spread', 0, groups.length, (i) => groups[i] as string);
    await delivered(h, names);
    const byRobot = await messagesOf(tokens);
    for (const robot of ROBOTS) {
      expect(byRobot[robot]?.length).toBeGreaterThan(0);
      expect(busiestMinute(byRobot[robot] ?? [])).toBeLessThanOrEqual(20);
    }
    const validated = (await get(h, 'DingTalkService', 'spread')).status as {
      groups?: { robots?: { name: string; ready: boolean }[] }[];
    };
    expect(validated.groups?.[0]?.robots?.map((r) => [r.name, r.ready])).toEqual(
      ROBOTS.map((r) => [r, true]),
    );
    const all = Object.values(byRobot).flat();
    // More than one robot's minute: the budgets added up.
    expect(all.length).toBeGreaterThan(20);
    for (const name of names) expect(carrying(all, name)).toHaveLength(1);
    await expectNoThrottleAnswer(tokens, all.length);
  });

  it("keeps an alarm group's messages on one robot, in order", async () => {
    const tokens = await pool(h, 'sticky');
    const groups = ['disk', 'cpu', 'memory', 'network', 'latency', 'errors'];
    const names: string[] = [];
    for (let round = 0; round < 3; round++) {
      // Alarm k joins alarm group groups[k % 6]: each group gets one new alarm a round.
      const raised = await raise(h, `sticky-r${round}`, 0, groups.length, (k) => groups[k] as string);
      names.push(...raised);
      await delivered(h, raised);
    }
    const byRobot = await messagesOf(tokens);
    const robotsUsed = new Set<string>();
    for (const k of groups.keys()) {
      const holders = ROBOTS.filter((robot) =>
        (byRobot[robot] ?? []).some((m) => carrying([m], `sticky-r0-${k}`).length),
      );
      expect(holders).toHaveLength(1);
      const robot = holders[0] as string;
      robotsUsed.add(robot);
      // Its later rounds went through the same robot, one message a round, in the order raised.
      const mine = (byRobot[robot] ?? []).filter(
        (m) => /sticky-r\d-/.test(m.text) && m.text.includes(`-${k} is down`),
      );
      expect(mine.map((m) => /sticky-r(\d)-/.exec(m.text)?.[1])).toEqual(['0', '1', '2']);
      for (const other of ROBOTS.filter((r) => r !== robot)) {
        expect((byRobot[other] ?? []).filter((m) => m.text.includes(`-${k} is down`))).toEqual([]);
      }
    }
    expect(robotsUsed.size).toBeGreaterThan(1);
    await expectNoThrottleAnswer(tokens, Object.values(byRobot).flat().length);
  });

  it('moves alarms off a robot disabled mid-storm, shows it in status, and takes it back once re-enabled', async () => {
    const tokens = await pool(h, 'failover');
    const first = await raise(h, 'failover-a', 0, 9);
    // The robot that took the first message: which robots an alarm group ranks first depends on the
    // namespace, which differs from run to run.
    const victim = await eventually(
      async () => Object.entries(await messagesOf(tokens)).find(([, messages]) => messages.length > 0)?.[0],
      { intervalMs: 100 },
    );
    // DingTalk disables it while alarms are queued for it.
    await h.emulator.control.setFault(
      { robot: tokens[victim] as string },
      { kind: 'errcode', errcode: 400102, errmsg: 'robot disabled' },
    );
    const second = await raise(h, 'failover-b', 0, 18);
    await delivered(h, [...first, ...second]);

    const health = await eventually(async () => {
      const robots = await robotHealth('failover');
      return robots.find((r) => r.name === victim && !r.healthy) ? robots : undefined;
    });
    expect(health.find((r) => r.name === victim)).toMatchObject({
      healthy: false,
      reason: 'Disabled',
      errcode: '400102',
    });
    const byRobot = await messagesOf(tokens);
    const all = Object.values(byRobot).flat();
    for (const name of [...first, ...second]) expect(carrying(all, name)).toHaveLength(1);
    await expectNoThrottleAnswer(tokens, all.length);
    const service = await get(h, 'DingTalkService', 'failover');
    expect((service.status?.deliveries as { throttled?: number } | undefined)?.throttled ?? 0).toBe(0);

    // Re-enabled: after its trial period the next alarm groups ranked for it go through it again.
    await h.emulator.control.clearFaults();
    const retryAt = Date.parse(health.find((r) => r.name === victim)?.retryAt ?? '');
    expect(retryAt).not.toBeNaN();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, retryAt - Date.now()) + 500));
    // Alarm groups that rank it first, whatever the namespace: they go through it and nowhere else.
    const ranked = groupsRankedFirst('failover', victim, 3);
    const third = await raise(h, 'failover-c', 0, ranked.length, (k) => ranked[k] as string);
    await delivered(h, third);
    await eventually(async () => {
      const robots = await robotHealth('failover');
      return robots.find((r) => r.name === victim)?.healthy ? robots : undefined;
    });
    const after = await h.emulator.control.messages({ robot: tokens[victim] as string });
    for (const name of third) expect(carrying(after, name)).toHaveLength(1);
  });
});
