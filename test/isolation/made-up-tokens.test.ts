import { randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAlarmEvents, serviceAccountToken } from '../receiver/support.ts';
import { type ChartProcess, startChartCommand } from '../support/chart-command.ts';
import { createTestNamespace, eventually, testKubeConfig } from '../support/kube.ts';

/**
 * Made-up bearer tokens from many addresses against the receiver, started as the chart starts it (its flags,
 * its heap sized from the chart's memory limit; it serves every namespace in any mode) but with a 5 s auth
 * cache so a legitimate caller's token is reviewed again several times during the flood. Every
 * review that ends in a refusal spends the receiver's invalid-token budget; once that was empty, every
 * caller whose cached answer expired was answered 429. Tokens naming the cluster's issuer are now checked
 * against its keys first, and a signed one is never held back by that budget.
 */

const ATTACKERS = 30;
const FLOOD_MS = 30_000;
const POSTS = 30;

let receiver: ChartProcess;
let url: string;
let namespace: { name: string; cleanup: () => Promise<void> };
let token: string;

beforeAll(async () => {
  namespace = await createTestNamespace('made-up-tokens');
  token = await serviceAccountToken(testKubeConfig(), namespace.name, 'alertmanager', { mayCreate: true });
  receiver = await startChartCommand('receiver', { extra: ['--auth-cache-ttl=5s'] });
  url = receiver.url;
  await eventually(async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined), {
    timeoutMs: 60_000,
  });
});

afterAll(async () => {
  await receiver?.stop();
  await namespace?.cleanup();
});

/** A token as an attacker makes one up: random bytes, or a JWT naming the cluster's issuer and this receiver. */
function madeUpToken(issuer: string, i: number): string {
  if (i % 2 === 0) return randomBytes(32).toString('base64url');
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const claims = {
    iss: issuer,
    aud: ['dingtalk-operator-receiver'],
    exp: Math.floor(Date.now() / 1000) + 3600,
    sub: `system:serviceaccount:${namespace.name}:alertmanager`,
  };
  return `${part({ alg: 'RS256', kid: randomBytes(8).toString('hex') })}.${part(claims)}.${randomBytes(256).toString('base64url')}`;
}

describe('made-up tokens from many addresses', () => {
  it("leave a legitimate caller's posts stored while they flood the receiver", async () => {
    const issuer = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')).iss;
    const alarms = `${url}/api/v1/namespaces/${namespace.name}/alarms`;
    const refusals = new Map<number, number>();
    let flooding = true;
    // Each attacker posts from an address of its own (any 127.0.0.0/8 address reaches the receiver).
    const attackers = Array.from({ length: ATTACKERS }, async (_, a) => {
      const dispatcher = new Agent({ connect: { localAddress: `127.0.0.${10 + a}` } });
      for (let i = 0; flooding; i++) {
        const answer = await request(alarms, {
          method: 'POST',
          dispatcher,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${madeUpToken(issuer, i)}` },
          body: JSON.stringify({ severity: 'critical', title: 'forged' }),
        }).catch(() => undefined);
        await answer?.body.dump();
        if (answer) refusals.set(answer.statusCode, (refusals.get(answer.statusCode) ?? 0) + 1);
      }
      await dispatcher.close();
    });

    const answers: number[] = [];
    for (let i = 0; i < POSTS; i++) {
      const started = Date.now();
      const answer = await request(alarms, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          severity: 'warning',
          title: `legitimate ${i}`,
          fingerprint: `legitimate-${i}`,
        }),
      });
      await answer.body.dump();
      answers.push(answer.statusCode);
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, FLOOD_MS / POSTS - (Date.now() - started))),
      );
    }
    flooding = false;
    await Promise.all(attackers);

    // The flood was real: it emptied the review budget for tokens of no issuer.
    expect(refusals.get(429) ?? 0, JSON.stringify(Object.fromEntries(refusals))).toBeGreaterThan(0);
    expect(refusals.get(202) ?? 0).toBe(0);
    const stored = (await listAlarmEvents(testKubeConfig(), namespace.name)).filter((e) =>
      e.spec.title?.startsWith('legitimate '),
    );
    expect(
      stored.length,
      `answers to the legitimate caller: ${answers.join(',')}\n${receiver.output().slice(-2000)}`,
    ).toBeGreaterThanOrEqual(Math.ceil(POSTS * 0.95));
  }, 180_000);
});
