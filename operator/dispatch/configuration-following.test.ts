import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { alarm } from '../../test/support/alarms.ts';
import { unusedTemplates } from '../../test/support/no-templates.ts';
import { RateBudget } from '../delivery/rate-budget.ts';
import type { CustomObject, OperatorContext } from '../manager/context.ts';
import { compileTemplates } from '../rules/templates.ts';
import type { PlannedTarget, ReferenceReader } from '../targets/index.ts';
import { configurationUsage, groupOutboxKey, memberOutboxKey, outboxInUse } from './configuration-usage.ts';
import type { Notification } from './notification.ts';
import { Outbox } from './outbox.ts';
import { Sender, senderOf } from './sender.ts';

const tokenA = 'a'.repeat(64);
const tokenB = 'b'.repeat(64);

function service(
  namespace: string,
  name: string,
  groups: { secret: string; limit?: number }[],
  uid = `${namespace}-${name}`,
) {
  return {
    apiVersion: 'dingtalk.alarming.io/v1alpha1',
    kind: 'DingTalkService',
    metadata: { namespace, name, uid },
    spec: {
      sendTo: ['Group'],
      groups: groups.map((g, i) => ({
        name: `g${i}`,
        webhook: { name: g.secret, key: 'webhook' },
        ...(g.limit && { rateLimitPerMinute: g.limit }),
      })),
    },
  } as CustomObject;
}

/** Secrets by namespace/name, each holding a webhook. */
function secrets(webhooks: Record<string, string>): ReferenceReader {
  return {
    secret: (namespace, name) => {
      const webhook = webhooks[`${namespace}/${name}`];
      return webhook === undefined ? undefined : { stringData: { webhook } };
    },
    configMap: () => undefined,
  };
}

describe('configuration usage', () => {
  it('lists each group robot with its limit, across tenants, and the services by namespace and name', () => {
    const usage = configurationUsage(
      [
        service('team-a', 'ops', [{ secret: 'robot', limit: 20 }]),
        service('team-b', 'ops', [{ secret: 'robot', limit: 5 }]),
        service('team-b', 'broken', [{ secret: 'missing' }]),
      ],
      secrets({
        'team-a/robot': `https://oapi.dingtalk.com/robot/send?access_token=${tokenA}`,
        'team-b/robot': tokenA,
      }),
    );
    expect(usage.robots.map((r) => [r.namespace, r.limit])).toEqual([
      ['team-a', 20],
      ['team-b', 5],
    ]);
    // One robot, used by two tenants: each has its own key.
    expect(usage.robotKeys.size).toBe(2);
    expect([...usage.services].sort()).toEqual(['team-a/ops', 'team-b/broken', 'team-b/ops']);
    expect(outboxInUse(groupOutboxKey('team-a', tokenA), usage)).toBe(true);
    expect(outboxInUse(groupOutboxKey('team-b', tokenA), usage)).toBe(true);
    expect(outboxInUse(groupOutboxKey('team-c', tokenA), usage)).toBe(false);
    expect(outboxInUse(groupOutboxKey('team-a', tokenB), usage)).toBe(false);
    expect(outboxInUse(memberOutboxKey('team-b', 'ops', 'digest'), usage)).toBe(true);
    // The same service name in another namespace is another service.
    expect(outboxInUse(memberOutboxKey('team-c', 'ops', 'digest'), usage)).toBe(false);
  });
});

function notification(namespace: string, service: string): Notification {
  return {
    rule: { namespace, name: 'rule' },
    templates: compileTemplates({ message: { type: 'markdown' } as never }),
    target: { service, kind: 'Group', name: 'ops', names: ['ops'] },
    groupLabels: {},
    alarms: [alarm('a', {}, namespace)],
    repeat: false,
  };
}

const groupTarget = (service: string, token: string): PlannedTarget => ({
  kind: 'Group',
  service,
  name: 'ops',
  group: {
    name: 'ops',
    robots: [{ name: 'ops', webhook: token, keywords: [] }],
    pool: false,
    unresolved: [],
    rateLimitPerMinute: 20,
  },
});

describe('Sender credentials', () => {
  it('forgets the credentials of a service gone, unless a queue still holds its notifications', async () => {
    const sent: string[] = [];
    const sender = new Sender({
      dingtalk: { sendGroupMessage: async ({ webhook }: { webhook: string }) => sent.push(webhook) },
      members: {},
      quota: { count: () => undefined, exhausted: () => undefined },
    } as unknown as Pick<OperatorContext, 'dingtalk' | 'members' | 'quota'>);
    sender.remember('team-a', groupTarget('gone', tokenA));
    sender.remember('team-b', groupTarget('gone', tokenB));
    const queuedB = senderOf(notification('team-b', 'gone'));
    sender.prune(() => false, new Set([queuedB]));
    const message = (n: Notification) => ({
      msgUuid: 'u',
      notifications: [n],
      content: { title: 't', text: 't' } as never,
      attempts: 0,
    });
    await expect(sender.send(message(notification('team-a', 'gone')))).rejects.toThrow(/no credentials/);
    await sender.send(message(notification('team-b', 'gone')));
    expect(sent).toEqual([tokenB]);
  });
});

describe('Outbox state for pruning', () => {
  it('names the senders of what it holds, and is idle once it holds nothing', async () => {
    let delivered: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      delivered = resolve;
    });
    const outbox = new Outbox({
      name: 'test',
      budget: new RateBudget({ limit: 20, windowMs: 60_000, marginMs: 0 }),
      blockMs: 600_000,
      logger: pino({ level: 'silent' }),
      outcomes: {
        record: async (outcome) => {
          if (outcome.kind === 'delivered') delivered();
        },
      },
      senderOf,
      templates: unusedTemplates,
      send: async () => ({}),
    });
    outbox.enqueue(notification('team-a', 'ops'));
    expect(outbox.idle).toBe(false);
    expect([...outbox.senders()]).toEqual([senderOf(notification('team-a', 'ops'))]);
    outbox.start();
    await done;
    await outbox.stop();
    expect(outbox.idle).toBe(true);
    expect(outbox.senders().size).toBe(0);
  });
});
