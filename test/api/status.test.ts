import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlarmEventStatus } from '../../operator/api/alarm-event.ts';
import type { AlarmRuleStatus } from '../../operator/api/alarm-rule.ts';
import type { DingTalkServiceStatus } from '../../operator/api/dingtalk-service.ts';
import { parseAlarmEvent, parseAlarmRule, parseDingTalkService } from '../../operator/api/parse.ts';
import { createTestNamespace, kubectl } from '../support/kube.ts';

const at = '2025-05-01T08:00:00Z';
const ready = {
  type: 'Ready',
  status: 'True',
  observedGeneration: 1,
  lastTransitionTime: at,
  reason: 'Succeeded',
  message: 'all targets can be sent to',
} as const;

// Every status field filled in, as the controllers will write them: the API server must keep all of it.
const serviceStatus: DingTalkServiceStatus = {
  observedGeneration: 1,
  conditions: [ready, { ...ready, type: 'CredentialsValid', message: 'token issued' }],
  groups: [
    {
      name: 'Ops',
      ready: false,
      reason: 'Throttled',
      message: 'DingTalk blocks the robot for sending too fast',
      lastTest: { time: at, result: 'Succeeded' },
    },
  ],
  member: {
    ready: true,
    reason: 'Succeeded',
    message: '2 of 3 members resolved',
    tokenExpiresAt: '2025-05-01T10:00:00Z',
    resolvedMembers: 2,
    unknownMembers: 1,
    unknownMemberNames: ['+86-13800000009'],
    lastTest: { time: at, result: 'Succeeded' },
  },
  delivery: {
    groups: [
      {
        name: 'Ops',
        throttledUntil: '2025-05-01T08:10:00Z',
        lastDelivery: { time: at, result: 'Throttled', errcode: '410100', message: 'send too fast' },
      },
    ],
    member: {
      lastDelivery: { time: at, result: 'Failed', errcode: 'staffId.notExisted', message: 'unknown staff' },
    },
  },
  deliveries: { sent: 120, throttled: 3, failed: 1, suppressed: 40 },
  lastSuccess: { time: at, target: { kind: 'Group', name: 'Ops' } },
  lastFailure: {
    time: at,
    target: { kind: 'Member', name: 'u1' },
    errcode: '310000',
    message: 'keywords not in content',
  },
  lastTest: { time: at, result: 'Succeeded' },
};

const ruleStatus: AlarmRuleStatus = {
  observedGeneration: 1,
  conditions: [ready, { ...ready, type: 'ServicesResolved', message: '1 service' }],
  counters: { matched: 10, notified: 4, suppressed: 5, failed: 1 },
  lastFired: { time: at, alarmEvent: 'disk-full', severity: 'critical' },
};

const eventStatus: AlarmEventStatus = {
  observedGeneration: 1,
  phase: 'PartiallyDelivered',
  conditions: [
    { ...ready, type: 'Delivered', status: 'False', reason: 'PartiallyDelivered', message: '1 of 2' },
  ],
  deliveries: [
    {
      ruleNamespace: 'team-a',
      rule: 'critical-to-oncall',
      service: 'ops',
      targetKind: 'Group',
      targetName: 'Ops',
      state: 'Delivered',
      attempts: 1,
      lastAttemptAt: at,
      deliveredAt: at,
      msgUuid: 'c0ffee00-0000-4000-8000-000000000001',
    },
    {
      ruleNamespace: 'team-a',
      rule: 'critical-to-oncall',
      service: 'ops',
      targetKind: 'Member',
      targetName: 'u1',
      state: 'Failed',
      reason: 'DingTalkError',
      attempts: 5,
      lastAttemptAt: at,
      nextAttemptAt: at,
      lastError: 'unknown staff',
      errcode: 'staffId.notExisted',
      msgUuid: 'c0ffee00-0000-4000-8000-000000000002',
      messageId: 'processQueryKey-1',
    },
  ],
  finishedAt: at,
};

const objects = [
  {
    resource: 'dts',
    parse: parseDingTalkService,
    status: serviceStatus,
    object: {
      kind: 'DingTalkService',
      spec: { sendTo: ['Group'], groups: [{ name: 'Ops', webhook: { name: 'r', key: 'w' } }] },
    },
  },
  {
    resource: 'ar',
    parse: parseAlarmRule,
    status: ruleStatus,
    object: { kind: 'AlarmRule', spec: { services: [{ name: 'ops' }] } },
  },
  {
    resource: 'ae',
    parse: parseAlarmEvent,
    status: eventStatus,
    object: { kind: 'AlarmEvent', spec: { severity: 'critical', title: 'Disk almost full' } },
  },
];

let namespace: Awaited<ReturnType<typeof createTestNamespace>>;
beforeAll(async () => {
  namespace = await createTestNamespace('api-status');
});
afterAll(() => namespace.cleanup());

describe('status subresource', () => {
  it.each(objects)(
    'keeps every field of a full $object.kind status',
    async ({ resource, parse, status, object }) => {
      const manifest = {
        apiVersion: 'dingtalk.alarming.io/v1alpha1',
        metadata: { name: 'full-status' },
        ...object,
      };
      await kubectl(['create', '-n', namespace.name, '-f', '-'], JSON.stringify(manifest));
      const patch = [
        'patch',
        resource,
        'full-status',
        '-n',
        namespace.name,
        '--subresource=status',
        '--type=merge',
      ];
      await kubectl([...patch, '-p', JSON.stringify({ status })]);

      const stored = JSON.parse(
        await kubectl(['get', resource, 'full-status', '-n', namespace.name, '-o', 'json']),
      );
      expect(stored.status).toEqual(status);
      expect(() => parse(stored)).not.toThrow();
    },
  );

  it('ignores status written through the main resource', async () => {
    const manifest = {
      apiVersion: 'dingtalk.alarming.io/v1alpha1',
      kind: 'AlarmEvent',
      metadata: { name: 'status-on-create' },
      spec: { severity: 'info', title: 't' },
      status: { phase: 'Delivered' },
    };
    await kubectl(['create', '-n', namespace.name, '-f', '-'], JSON.stringify(manifest));
    const stored = JSON.parse(
      await kubectl(['get', 'ae', 'status-on-create', '-n', namespace.name, '-o', 'json']),
    );
    expect(stored.status).toBeUndefined();
  });

  it('feeds the Ready, Reason and Phase columns', async () => {
    const services = await kubectl(['get', 'dts', 'full-status', '-n', namespace.name]);
    expect(services).toMatch(/^full-status\s+True\s+Succeeded\s/m);
    const events = await kubectl(['get', 'ae', 'full-status', '-n', namespace.name]);
    expect(events).toMatch(/^full-status\s+critical\s+firing\s+PartiallyDelivered\s/m);
  });

  it('lets kubectl wait for Ready', async () => {
    const output = await kubectl([
      'wait',
      '--for=condition=Ready',
      '--timeout=10s',
      '-n',
      namespace.name,
      'ar/full-status',
    ]);
    expect(output).toContain('condition met');
  });
});
