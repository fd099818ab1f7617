import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { freePort, type RunningReceiver, startReceiverCommand } from '../alertmanager/harness.ts';
import { BUILT_ALONGSIDE_MS } from '../cluster/cluster-env.ts';
import {
  create,
  groupService,
  kubeconfigPath,
  tokenFor,
  useDispatch,
  waitForPhase,
} from '../dispatch/harness.ts';
import { eventually } from '../support/kube.ts';
import { ALERTS, DASHBOARD, type RunningPrometheus, startPrometheus } from './prometheus.ts';

/**
 * Prometheus, built from its module, scrapes an operator (in this process, as the dispatch tests run it)
 * and a receiver (its command) and evaluates the chart's alerts: every metric the alerts and the
 * dashboard query must be one they export.
 */

const h = useDispatch({ blockMs: 3_000 });

/** Every dingtalk_operator_* name in the alerts' expressions and the dashboard's targets. */
function queriedMetrics(): string[] {
  const alerts = parse(readFileSync(ALERTS, 'utf8')) as { groups: { rules: { expr: string }[] }[] };
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    panels: { targets?: { expr: string }[] }[];
  };
  const expressions = [
    ...alerts.groups.flatMap((group) => group.rules.map((rule) => rule.expr)),
    ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr)),
  ];
  return [...new Set(expressions.flatMap((expr) => expr.match(/\bdingtalk_operator_\w+/g) ?? []))].sort();
}

/** A histogram's series are named after it with a suffix; Prometheus's metadata names the histogram. */
const family = (name: string) => name.replace(/_(bucket|sum|count)$/, '');

describe('Prometheus scraping the operator and the receiver', () => {
  let receiver: RunningReceiver;
  let prometheus: RunningPrometheus;

  beforeAll(async () => {
    const operatorPort = await eventually(() => h.manager.health.port);
    receiver = await startReceiverCommand(kubeconfigPath(), await freePort());
    prometheus = await startPrometheus([`127.0.0.1:${operatorPort}`, new URL(receiver.url).host], [ALERTS]);
  }, BUILT_ALONGSIDE_MS);
  afterAll(async () => {
    await prometheus?.stop();
    await receiver?.kill();
  });

  it('finds every metric the alerts and the dashboard query, and evaluates every alert without error', async () => {
    // Some traffic: an alarm delivered through the emulator, a request the receiver refuses (no token).
    await groupService(h, 'ops', { token: tokenFor('scrape') });
    await create(h, 'AlarmRule', 'to-ops', {
      services: [{ name: 'ops' }],
      match: { sources: ['scrape-test'] },
      grouping: { groupWait: '1s', groupInterval: '1s', repeatInterval: '4h' },
    });
    await create(h, 'AlarmEvent', 'disk-full', {
      severity: 'critical',
      title: 'Disk full',
      source: 'scrape-test',
    });
    await waitForPhase(h, 'disk-full', ['Delivered']);
    const refused = await fetch(`${receiver.url}/api/v1/alertmanager`, { method: 'POST', body: '{}' });
    expect(refused.status).toBe(401);

    const queried = queriedMetrics();
    expect(queried.length).toBeGreaterThan(20);
    let missing: string[] = [];
    await eventually(
      async () => {
        const scraped = await prometheus.api<Record<string, unknown>>('metadata');
        missing = queried.filter((name) => !(family(name) in scraped));
        return missing.length === 0 ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    ).catch(() => undefined);
    expect(missing).toEqual([]);

    // Both targets up, and every rule evaluated at least once, without error.
    const { activeTargets } = await prometheus.api<{ activeTargets: { health: string }[] }>('targets');
    expect(activeTargets.map((target) => target.health)).toEqual(['up', 'up']);
    type Rule = { name: string; health: string; state: string; lastError?: string; lastEvaluation: string };
    const rules = await eventually(
      async () => {
        const { groups } = await prometheus.api<{ groups: { rules: Rule[] }[] }>('rules');
        const all = groups.flatMap((group) => group.rules);
        return all.every((rule) => !rule.lastEvaluation.startsWith('0001')) ? all : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(rules.filter((rule) => rule.health !== 'ok')).toEqual([]);
    expect(rules).toHaveLength(9);

    // The alarm's phase, counted from the operator's cache, and its watches, none failing.
    const value = async (query: string) =>
      (await prometheus.api<{ result: { value: [number, string] }[] }>('query', { query })).result.map(
        (sample) => Number(sample.value[1]),
      );
    await eventually(
      async () =>
        (await value('dingtalk_operator_alarm_events{phase="Delivered"}'))[0] === 1 &&
        (await value('dingtalk_operator_alarm_event_phase_changes_total{phase="Delivered"}'))[0] === 1
          ? true
          : undefined,
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(await value('dingtalk_operator_watch_failing')).toEqual([0, 0, 0]);

    // The message counts against its robot's month, and the quota alerts' operands match label for label.
    const robotShare =
      'max without (instance, pod) (dingtalk_operator_quota_calls{bucket="robot"})' +
      ' / max without (instance, pod) (dingtalk_operator_quota_limit)';
    await eventually(async () => (((await value(robotShare))[0] ?? 0) > 0 ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 500,
    });

    // The operator leads, so the leader alert (pending while nothing was scraped yet) goes quiet.
    expect(await value('max(dingtalk_operator_leader)')).toEqual([1]);
    await eventually(
      async () => {
        const { groups } = await prometheus.api<{ groups: { rules: Rule[] }[] }>('rules');
        const noLeader = groups
          .flatMap((group) => group.rules)
          .find((rule) => rule.name === 'DingTalkOperatorNoLeader');
        return noLeader?.state === 'inactive' ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
  });
});
