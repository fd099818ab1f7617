import { randomBytes } from 'node:crypto';
import { CoordinationV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ALARM_EVENT_PLURAL, API_VERSION, GROUP, VERSION } from '../../operator/api/index.ts';
import type { Manager } from '../../operator/manager/manager.ts';
import { createRetrying } from '../support/create-retrying.ts';
import { eventually, testKubeConfig } from '../support/kube.ts';
import { create, groupService, tokenFor, useDispatch } from './harness.ts';

const LEASE = `rolling-${randomBytes(4).toString('hex')}`;
const ALARMS = 500;
// Five groups repeating every 30 s keep the robot at 10 messages a minute, half its budget, so the budget
// never delays a repeat and every gap is the interval itself.
const GROUPS = 'abcde'.split('');
const REPEAT_MS = 30_000;

// Two replicas electing a leader through a Lease of their own, as the chart runs them.
const h = useDispatch({}, [
  '--leader-elect',
  'true',
  '--leader-election-namespace',
  'default',
  '--leader-election-lease',
  LEASE,
  '--leader-election-identity',
  'replica-0',
]);

const holder = async () =>
  (
    await testKubeConfig()
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: LEASE, namespace: 'default' })
      .catch(() => undefined)
  )?.spec?.holderIdentity;

/** Messages per aggregation group (each group's alarms carry its marker in their titles), in order. */
async function sentByGroup(token: string): Promise<Map<string, number[]>> {
  const byGroup = new Map<string, number[]>(GROUPS.map((g) => [g, []]));
  for (const message of await h.emulator.control.messages({ robot: token })) {
    for (const g of GROUPS)
      if (message.text.includes(`rolling-${g}-`)) byGroup.get(g)?.push(message.receivedAt);
  }
  return byGroup;
}

/** Waits until every group has had `count` messages. */
function untilEachGroupHas(token: string, count: number, timeoutMs = 3 * REPEAT_MS) {
  return eventually(
    async () => {
      const sent = await sentByGroup(token);
      return [...sent.values()].every((times) => times.length >= count) ? sent : undefined;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

describe('a rolling restart during long-firing alarms', () => {
  it(
    'sends each repeat once per interval while the leader is replaced twice',
    async () => {
      const replicas = new Map<string, Manager>([['replica-0', h.manager]]);
      replicas.set('replica-1', h.startOperator(['--leader-election-identity', 'replica-1']));
      const token = tokenFor('rollingrestart');
      await groupService(h, 'rolling', { token, groupName: 'rolling' });
      await create(h, 'AlarmRule', 'to-rolling', {
        services: [{ name: 'rolling' }],
        grouping: {
          groupBy: ['team'],
          groupWait: '5s',
          groupInterval: '5s',
          repeatInterval: `${REPEAT_MS / 1000}s`,
        },
      });
      const api = testKubeConfig().makeApiClient(CustomObjectsApi);
      for (let start = 0; start < ALARMS; start += 25) {
        await Promise.all(
          Array.from({ length: Math.min(25, ALARMS - start) }, (_, k) => {
            const i = start + k;
            const g = GROUPS[i % GROUPS.length] as string;
            return createRetrying(() =>
              api.createNamespacedCustomObject({
                group: GROUP,
                version: VERSION,
                namespace: h.namespace,
                plural: ALARM_EVENT_PLURAL,
                body: {
                  apiVersion: API_VERSION,
                  kind: 'AlarmEvent',
                  metadata: { name: `long-firing-${i}` },
                  spec: { severity: 'warning', title: `rolling-${g}-${i} still firing`, labels: { team: g } },
                },
              }),
            );
          }),
        );
      }

      /** Shuts the leader down, as deleting its pod does, and starts the replica that replaces it. */
      let next = 2;
      const replaceLeader = async () => {
        const leader = await eventually(async () => {
          const identity = await holder();
          return identity && replicas.has(identity) ? identity : undefined;
        });
        await h.stopOperator(replicas.get(leader));
        replicas.delete(leader);
        const identity = `replica-${next++}`;
        replicas.set(identity, h.startOperator(['--leader-election-identity', identity]));
        await eventually(async () => {
          const now = await holder();
          return now && now !== leader ? now : undefined;
        });
      };

      await untilEachGroupHas(token, 1);
      await replaceLeader();
      await untilEachGroupHas(token, 2);
      await replaceLeader();
      const sent = await untilEachGroupHas(token, 4, 4 * REPEAT_MS);

      for (const [group, times] of sent) {
        const gaps = times.slice(1).map((at, i) => at - (times[i] as number));
        // Nothing extra (a new leader repeating at once, or both repeating): every gap is a full interval,
        // less the second the ledger's times leave out; and none skipped: no gap of two.
        expect({ group, short: gaps.filter((gap) => gap < REPEAT_MS - 1_000) }).toEqual({ group, short: [] });
        expect({ group, long: gaps.filter((gap) => gap >= 2 * REPEAT_MS) }).toEqual({ group, long: [] });
      }
    },
    8 * REPEAT_MS,
  );
});
