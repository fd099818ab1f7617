import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { KubeUnavailableError } from '../errors.ts';
import { loadReceiverConfig } from '../receiver/config.ts';
import { createLogger } from '../runtime/logger.ts';
import { Manager } from './manager.ts';

/**
 * The operator's Kubernetes client gets its deadline and rate limit from the flags: a call to an API
 * server that accepts and never answers fails at the deadline, and a call beyond the burst whose token
 * would come after its deadline fails at once.
 */

let cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

function kubeconfig(server: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kube-client-settings-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'kubeconfig');
  writeFileSync(
    file,
    JSON.stringify({
      'current-context': 'c',
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
      clusters: [{ name: 'c', cluster: { server } }],
      users: [{ name: 'u', user: { token: 't' } }],
    }),
  );
  return file;
}

function manager(server: string, flags: string[]): Manager {
  const config = loadConfig({
    argv: ['--kubeconfig', kubeconfig(server), '--leader-elect', 'false', ...flags],
    env: { POD_NAME: 'test' },
  });
  const built = new Manager(config, createLogger({ level: 'silent' }), []);
  cleanups.push(async () => {
    await built.context.kube.close();
    await built.context.dingtalk.close();
  });
  return built;
}

async function listening<S extends Server | ReturnType<typeof createTcpServer>>(server: S): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('the Kubernetes client settings', () => {
  it('default to a 30 s deadline and a rate limit in both processes', () => {
    const operator = loadConfig({ argv: [], env: { POD_NAME: 'test' } });
    expect([operator.kubeRequestTimeout, operator.kubeApiQps, operator.kubeApiBurst]).toEqual([
      30_000, 200, 400,
    ]);
    const receiver = loadReceiverConfig({ argv: [], env: { POD_NAMESPACE: 'ops' } });
    expect([receiver.kubeRequestTimeout, receiver.kubeApiQps, receiver.kubeApiBurst]).toEqual([
      10_000, 200, 1000,
    ]);
  });

  it("bound the operator's calls by --kube-request-timeout when the API server never answers", async () => {
    const sockets: Socket[] = [];
    const silent = createTcpServer((socket) => sockets.push(socket));
    const server = await listening(silent);
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });
    const err = await manager(server, ['--kube-request-timeout', '300ms'])
      .context.kube.get('/api/v1/namespaces/default/secrets/a')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeUnavailableError);
    expect((err as Error).message).toContain('no answer within the 300 ms deadline');
  });

  it("pace the operator's calls by --kube-api-qps and --kube-api-burst", async () => {
    let calls = 0;
    const api = createServer((_req, res) => {
      calls++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    const server = await listening(api);
    cleanups.push(async () => {
      api.closeAllConnections();
      await new Promise((resolve) => api.close(resolve));
    });
    const kube = manager(server, [
      '--kube-api-qps',
      '0.1',
      '--kube-api-burst',
      '2',
      '--kube-request-timeout',
      '5s',
    ]).context.kube;
    await kube.get('/a');
    await kube.get('/a');
    await expect(kube.get('/a')).rejects.toThrow('rate limit');
    expect(calls).toBe(2);
  });
});
