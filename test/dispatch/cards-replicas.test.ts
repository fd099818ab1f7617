import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { eventually } from '../support/kube.ts';
import { create, get, secret, useDispatch } from './harness.ts';

const LEASE = `cards-${randomBytes(4).toString('hex')}`;

// Two replicas electing a leader, as the chart runs them: each keeps a Stream connection for the app,
// and DingTalk hands a click to either, so the follower's clicks must be recorded too.
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

const CLIENT_ID = 'replicas-app';

describe('card clicks with two replicas', () => {
  it('records a click whichever replica DingTalk hands it to, the follower included', async () => {
    h.startOperator(['--leader-election-identity', 'replica-1']);
    await h.emulator.control.putApp(CLIENT_ID, { clientSecret: `${CLIENT_ID}-secret` });
    await h.emulator.control.putUser('wangwu', { name: '王五' });
    await secret(h, 'replicas', { clientSecret: `${CLIENT_ID}-secret` });
    await create(h, 'DingTalkService', 'replicas', {
      sendTo: ['Member'],
      member: {
        clientId: CLIENT_ID,
        clientSecret: { name: 'replicas', key: 'clientSecret' },
        members: [{ userId: 'wangwu', name: '王五' }],
        cardTemplateId: 'alarm-card.schema',
      },
    });
    await create(h, 'AlarmRule', 'replicas', {
      services: [{ name: 'replicas' }],
      match: { sources: ['replicas'] },
      grouping: { groupWait: '1s', groupInterval: '1s', repeatInterval: '1h', groupBy: ['alertname'] },
      interactive: {},
    });
    const names = ['replicas-a', 'replicas-b'];
    for (const name of names)
      await create(h, 'AlarmEvent', name, {
        severity: 'critical',
        title: `Disk full ${name}`,
        source: 'replicas',
        labels: { alertname: name },
      });
    const cards = await eventually(async () => {
      const all = (await h.emulator.control.cards()).filter((c) => c.clientId === CLIENT_ID);
      return all.length === names.length ? all : undefined;
    });
    // One connection per replica: the emulator hands clicks to them in turn.
    await eventually(async () =>
      (await h.emulator.control.streamConnections(CLIENT_ID)).length === 2 ? true : undefined,
    );
    const connections = new Set<string | undefined>();
    for (const card of cards) {
      const { deliveries } = await h.emulator.control.click(card.outTrackId, {
        userId: 'wangwu',
        params: { action: 'Acknowledge' },
      });
      expect(deliveries[0]).toMatchObject({ outcome: 'answered', applied: true });
      connections.add(deliveries[0]?.connectionId);
    }
    expect(connections.size).toBe(2);
    for (const name of names) {
      const ack = await eventually(async () => (await get(h, 'AlarmEvent', name)).status?.acknowledgement);
      expect(ack).toMatchObject({
        action: 'Acknowledged',
        by: { userId: 'wangwu', name: '王五' },
        via: 'Card',
      });
    }
  });
});
