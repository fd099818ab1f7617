import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, get, groupService, secret, tokenFor, waitForPhase } from '../dispatch/harness.ts';
import { eventually } from '../support/kube.ts';
import { fastGrouping, useTenants } from './tenants.ts';

const t = useTenants();

// Stands for whoever reads plain HTTP on the way: it records what would have crossed the wire. It listens
// on http's own port, which an allow-listed host without a port admits, so nothing but the scheme keeps
// the token from it.
let eavesdropper: Server;
const overheard: string[] = [];
beforeAll(async () => {
  eavesdropper = createServer((request: IncomingMessage, response) => {
    overheard.push(request.url ?? '');
    response.end('{"errcode":0,"errmsg":"ok"}');
  });
  await new Promise<void>((resolve) => eavesdropper.listen(80, '127.0.0.1', resolve));
});
afterAll(async () => {
  await new Promise((resolve) => eavesdropper?.close(resolve));
});

const ready = (h: typeof t.victim, name: string) =>
  eventually(
    async () => {
      const service = await get(h, 'DingTalkService', name);
      const conditions = (service.status?.conditions ?? []) as {
        type: string;
        status: string;
        reason: string;
        message: string;
      }[];
      return conditions.find((c) => c.type === 'Ready' && c.status !== 'Unknown');
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );

async function serviceWithWebhook(name: string, webhook: string) {
  await secret(t.attacker, `${name}-robot`, { webhook });
  await create(t.attacker, 'DingTalkService', name, {
    sendTo: ['Group'],
    groups: [{ name: 'ops', webhook: { name: `${name}-robot`, key: 'webhook' } }],
  });
}

describe('clear-text webhook', () => {
  it('a webhook URL on plain http is refused before its token is sent, and a malformed path is a condition, not a loop', async () => {
    const token = tokenFor('cleartext');
    await serviceWithWebhook('leaky', `http://127.0.0.1/robot/send?access_token=${token}`);
    await create(t.attacker, 'AlarmRule', 'to-leaky', {
      services: [{ name: 'leaky' }],
      grouping: fastGrouping,
    });
    await create(t.attacker, 'AlarmEvent', 'leak', { severity: 'critical', title: 'would leak the token' });
    await serviceWithWebhook('malformed', `https://127.0.0.1/robot%FF/send?access_token=${token}`);

    const victimRobot = tokenFor('cleartextvictim');
    await groupService(t.victim, 'ops', { token: victimRobot });
    await create(t.victim, 'AlarmRule', 'to-ops', { services: [{ name: 'ops' }], grouping: fastGrouping });
    await create(t.victim, 'AlarmEvent', 'fine', { severity: 'critical', title: 'delivered as usual' });

    // Refused for its scheme alone: the host is allow-listed and the URL names no port.
    const leaky = await ready(t.attacker, 'leaky');
    expect(leaky?.status).toBe('False');
    expect(leaky?.reason).toBe('InvalidWebhook');
    expect(leaky?.message).toMatch(/https/);
    const malformed = await ready(t.attacker, 'malformed');
    expect(malformed).toMatchObject({ status: 'False', reason: 'InvalidWebhook' });
    expect(malformed?.message).toContain('path must be /robot/send');
    expect(malformed?.message).not.toContain(token);

    await waitForPhase(t.victim, 'fine', ['Delivered']);
    // Refused, never sent: held for a fix when planning finds the webhook unusable, failed when the
    // sender refuses it.
    const leak = await waitForPhase(t.attacker, 'leak', [
      'Held',
      'Failed',
      'Delivered',
      'PartiallyDelivered',
    ]);
    expect(['Held', 'Failed']).toContain(leak.status?.phase);
    expect(overheard).toEqual([]);
  });
});
