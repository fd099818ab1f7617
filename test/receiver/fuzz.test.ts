import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNamespace, testKubeConfig } from '../support/kube.ts';
import { MalformedBodies } from './malformed-bodies.ts';
import { listAlarmEvents, serviceAccountToken, startReceiver } from './support.ts';

/**
 * 2,400 generated malformed requests from an authorised caller: every one is refused with a 4xx that
 * says why, the receiver stays up, and no AlarmEvent comes from any of them.
 */

const REQUESTS = 2_400;
const CONCURRENCY = 8;
const SEED = 20260501;

describe('receiver fed malformed bodies', () => {
  let kubeConfig: KubeConfig;
  let namespace: { name: string; cleanup: () => Promise<void> };
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let token: string;

  beforeAll(async () => {
    kubeConfig = testKubeConfig();
    namespace = await createTestNamespace('receiver-fuzz');
    token = await serviceAccountToken(kubeConfig, namespace.name, 'fuzzer', { mayCreate: true });
    receiver = await startReceiver(kubeConfig, { defaultNamespace: namespace.name });
  });

  afterAll(async () => {
    await receiver?.close();
    await namespace?.cleanup();
  });

  it('refuses every one with 400, 413 or 415 and creates nothing', async () => {
    const generator = new MalformedBodies(SEED);
    const statuses = new Map<number, number>();
    const unexpected: string[] = [];
    let sent = 0;
    const worker = async () => {
      while (sent < REQUESTS) {
        sent++;
        const request = generator.next();
        const response = await fetch(`${receiver.url}/api/v1/${request.endpoint}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': request.contentType },
          body: request.body,
        });
        const answer = (await response.json()) as { code?: string; message?: string };
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        if (
          ![400, 413, 415].includes(response.status) ||
          !answer.code?.startsWith('RCV_ERR_') ||
          !answer.message
        ) {
          unexpected.push(
            `${response.status} ${request.endpoint} (${request.description}): ${JSON.stringify(answer)}`,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));

    expect(unexpected.slice(0, 10)).toEqual([]);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(REQUESTS);
    expect(statuses.get(400)).toBeGreaterThan(REQUESTS / 2);
    expect(statuses.get(415)).toBeGreaterThan(0);
    expect((await fetch(`${receiver.url}/healthz`)).status).toBe(200);
    expect(await listAlarmEvents(kubeConfig, namespace.name)).toEqual([]);
  });
});
