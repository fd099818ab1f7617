import { connect, type Socket } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartReceiverFlags } from '../support/chart-command.ts';
import { createTestNamespace, eventually, testKubeConfig } from '../support/kube.ts';
import { alertmanagerPayload, diskAlert, postJson, serviceAccountToken, startReceiver } from './support.ts';

/**
 * What one caller can cost the receiver and the API server, attacked over real sockets: a body trickled
 * byte by byte, more connections than the receiver keeps, silent sockets from a few addresses, and a
 * flood of made-up tokens, each of which would cost a TokenReview.
 */

describe('receiver resource limits', () => {
  let kubeConfig: KubeConfig;
  let namespace: { name: string; cleanup: () => Promise<void> };

  beforeAll(async () => {
    kubeConfig = testKubeConfig();
    namespace = await createTestNamespace('limits');
  });

  afterAll(async () => {
    await namespace?.cleanup();
  });

  it('closes a connection whose body trickles in slower than the request timeout', async () => {
    // A caller the receiver admits: its body is read, not refused up front.
    const token = await serviceAccountToken(kubeConfig, namespace.name, 'trickler', { mayCreate: true });
    const receiver = await startReceiver(kubeConfig, { flags: ['--request-timeout=2s'] });
    const { port } = new URL(receiver.url);
    const socket = await open(Number(port));
    let answer = '';
    socket.on('data', (chunk) => {
      answer += String(chunk);
    });
    socket.write(
      `POST /api/v1/namespaces/${namespace.name}/alarms HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`,
    );
    // One byte a second: never idle, never done.
    const trickle = setInterval(() => socket.write(' '), 1_000);
    try {
      // Generous against a 2s timeout on a loaded machine; today the connection stays open past 75s.
      const closed = await Promise.race([
        new Promise<true>((resolve) => socket.once('close', () => resolve(true))),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), 45_000)),
      ]);
      expect(closed).toBe(true);
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      clearInterval(trickle);
      socket.destroy();
      await receiver.close();
    }
  });

  it('keeps no more connections open than its cap, and still serves those it keeps', async () => {
    const token = await serviceAccountToken(kubeConfig, namespace.name, 'capped', { mayCreate: true });
    const receiver = await startReceiver(kubeConfig, { flags: ['--max-connections=4'] });
    const port = Number(new URL(receiver.url).port);
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 4; i++) sockets.push(await open(port));
      const extra = await open(port);
      sockets.push(extra);
      const refused = await Promise.race([
        new Promise<true>((resolve) => extra.once('close', () => resolve(true))),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), 30_000)),
      ]);
      expect(refused).toBe(true);
      // The ones kept still work.
      const kept = sockets[0] as Socket;
      const body = JSON.stringify(alertmanagerPayload([diskAlert(1)]));
      const answer = new Promise<string>((resolve) => kept.once('data', (chunk) => resolve(String(chunk))));
      kept.write(
        `POST /api/v1/namespaces/${namespace.name}/alertmanager HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      expect(await answer).toMatch(/^HTTP\/1\.1 202/);
    } finally {
      for (const socket of sockets) socket.destroy();
      await receiver.close();
    }
  });

  it('serves a caller while six addresses hold 600 silent sockets, more than --max-connections', async () => {
    const token = await serviceAccountToken(kubeConfig, namespace.name, 'beside-silence', {
      mayCreate: true,
    });
    // As the chart starts it (every namespace in any mode), so with the defaults: 512 connections, 64 of
    // them per address.
    const receiver = await startReceiver(kubeConfig, { flags: await chartReceiverFlags() });
    const port = Number(new URL(receiver.url).port);
    const silent: Socket[] = [];
    let closed = 0;
    try {
      for (let address = 2; address <= 7; address++) {
        for (let i = 0; i < 100; i++) {
          const socket = await open(port, `127.0.0.${address}`);
          socket.once('close', () => closed++);
          silent.push(socket);
        }
      }
      // The server has seen them all once it has closed what it does not keep: 88 beyond its 512 before,
      // 216 beyond 6 × 64 now. The caller's connection comes after them.
      await eventually(async () => (closed >= 88 ? true : undefined), { timeoutMs: 30_000 });
      const body = alertmanagerPayload([diskAlert(7)]);
      const answer = await postJson(
        `${receiver.url}/api/v1/namespaces/${namespace.name}/alertmanager`,
        body,
        token,
      );
      expect(answer.status).toBe(202);
      expect(closed).toBeGreaterThanOrEqual(600 - 6 * 64);
    } finally {
      for (const socket of silent) socket.destroy();
      await receiver.close();
    }
  });

  it('closes a connection that sends no headers within --headers-timeout', async () => {
    const receiver = await startReceiver(kubeConfig, { flags: ['--headers-timeout=2s'] });
    const socket = await open(Number(new URL(receiver.url).port));
    let answer = '';
    socket.on('data', (chunk) => {
      answer += String(chunk);
    });
    try {
      // Generous against 2s on a loaded machine; --request-timeout (30s) would come later.
      const closed = await Promise.race([
        new Promise<true>((resolve) => socket.once('close', () => resolve(true))),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), 25_000)),
      ]);
      expect(closed).toBe(true);
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      socket.destroy();
      await receiver.close();
    }
  });

  it('spends a bounded number of TokenReviews on 200 made-up tokens, and answers the rest 401 or 429', async () => {
    const token = await serviceAccountToken(kubeConfig, namespace.name, 'flooded', { mayCreate: true });
    const receiver = await startReceiver(kubeConfig);
    const url = `${receiver.url}/api/v1/namespaces/${namespace.name}/alertmanager`;
    try {
      // A legitimate caller, reviewed before the flood.
      expect((await postJson(url, alertmanagerPayload([diskAlert(1)]), token)).status).toBe(202);
      const statuses = new Map<number, number>();
      const started = Date.now();
      for (let i = 0; i < 200; i++) {
        // Half opaque strings, which only the API server can judge; half the cluster's own JWTs with
        // their signature replaced, which the issuer's keys refuse without a review.
        const forged =
          i % 2 === 0
            ? `random-${i}-${Math.random()}`
            : `${token.split('.').slice(0, 2).join('.')}.forged${i}`;
        const { status } = await postJson(url, alertmanagerPayload([diskAlert(2)]), forged);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
      const reviews = await counter(receiver, 'dingtalk_operator_receiver_token_reviews_total');
      // One for the legitimate caller; for the opaque strings, the per-client budget: 10 at once, then 10
      // a minute for as long as the flood lasted (seconds, or more on a loaded machine).
      const budget = 10 + Math.ceil(((Date.now() - started) / 60_000) * 10);
      expect(reviews.authenticated).toBe(1);
      expect(reviews.forged).toBe(100);
      expect(reviews.refused ?? 0).toBeLessThanOrEqual(budget);
      expect((statuses.get(401) ?? 0) + (statuses.get(429) ?? 0)).toBe(200);
      expect(statuses.get(429)).toBeGreaterThanOrEqual(100 - budget);
      // The legitimate caller is not locked out.
      expect((await postJson(url, alertmanagerPayload([diskAlert(3)]), token)).status).toBe(202);
    } finally {
      await receiver.close();
    }
  });
});

/** A connection from `localAddress` (Linux answers on all of 127.0.0.0/8: each is another client). */
function open(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** A counter's values by its only label, read from the receiver's metrics registry. */
async function counter(
  receiver: Awaited<ReturnType<typeof startReceiver>>,
  name: string,
): Promise<Record<string, number>> {
  const metric = (await receiver.metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  if (!metric) throw new Error(`the receiver has no metric ${name}`);
  return Object.fromEntries(
    (metric.values as { labels: Record<string, string>; value: number }[]).map((v) => [
      Object.values(v.labels)[0],
      v.value,
    ]),
  );
}
