import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Informer, type InformerEvent } from './informer.ts';
import { KubeHttp } from './kube-http.ts';

/**
 * Faults a real API server will not produce on demand (a 500 on watch, a silent half-open watch, a
 * 410 inside the stream at a chosen moment), served by a scripted node:http server. Behaviour against
 * the real API server is covered in test/runtime.
 */

type WatchScript = (res: ServerResponse, query: URLSearchParams) => void;

interface FakeApi {
  kube: KubeHttp;
  lists: number;
  watches: URLSearchParams[];
}

const configMap = (name: string, resourceVersion: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns', uid: `uid-${name}`, resourceVersion },
});

const line = (res: ServerResponse, type: string, object: unknown) =>
  res.write(`${JSON.stringify({ type, object })}\n`);

const open: WatchScript = (res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.flushHeaders();
};

let servers: Server[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  servers = [];
});

async function fakeApi(
  listResponses: Array<{ items: ReturnType<typeof configMap>[]; rv: string }>,
  scripts: WatchScript[],
) {
  const state = { lists: 0, watches: [] as URLSearchParams[] };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.searchParams.get('watch') === 'true') {
      state.watches.push(url.searchParams);
      progress.emit('step');
      const script = scripts.shift() ?? open;
      script(res, url.searchParams);
      return;
    }
    const list = listResponses[Math.min(state.lists, listResponses.length - 1)];
    state.lists++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMapList',
        metadata: { resourceVersion: list?.rv },
        items: list?.items,
      }),
    );
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kube = new KubeHttp(
    { getCurrentCluster: () => ({ server: address }), applyToHTTPSOptions: async () => undefined },
    { connections: null },
  );
  return {
    kube,
    get lists() {
      return state.lists;
    },
    watches: state.watches,
  } satisfies FakeApi;
}

/** Told of every watch request and every informer event, so a test waits on what happens, not on time. */
const progress = new EventEmitter();

async function until(check: () => boolean) {
  while (!check()) await once(progress, 'step');
}

/** For what no event reports (a bookmark taken in): looks again after each turn of the event loop. */
async function untilSettled(check: () => boolean) {
  while (!check()) await new Promise((resolve) => setImmediate(resolve));
}

function informerFor(api: FakeApi, options: { idleTimeoutMs?: number } = {}) {
  const informer = new Informer({
    kube: api.kube,
    path: '/api/v1/configmaps',
    backoff: { initialMs: 10, maxMs: 50 },
    ...options,
  });
  const events: string[] = [];
  informer.onEvent((event: InformerEvent<object>) => {
    events.push(`${event.type} ${event.key}`);
    progress.emit('step');
  });
  return { informer, events };
}

describe('Informer faults', () => {
  it('relists after an ERROR 410 in the watch stream and emits what changed meanwhile', async () => {
    const api = await fakeApi(
      [
        { items: [configMap('a', '10'), configMap('gone', '9')], rv: '10' },
        { items: [configMap('a', '10'), configMap('b', '20')], rv: '20' },
      ],
      [
        (res) => {
          open(res, new URLSearchParams());
          line(res, 'ERROR', {
            kind: 'Status',
            code: 410,
            reason: 'Expired',
            message: 'too old resource version',
          });
        },
      ],
    );
    const { informer, events } = informerFor(api);
    informer.start();
    await until(() => api.watches.length >= 2);
    await informer.stop();
    expect(api.lists).toBe(2);
    expect(api.watches[1]?.get('resourceVersion')).toBe('20');
    expect(events).toEqual(['add ns/a', 'add ns/gone', 'add ns/b', 'delete ns/gone']);
    expect(informer.list().map((cm) => cm.metadata?.name)).toEqual(['a', 'b']);
  });

  it('relists after a 410 answer to the watch request', async () => {
    const api = await fakeApi(
      [{ items: [], rv: '5' }],
      [
        (res) => {
          res.writeHead(410, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ kind: 'Status', code: 410, reason: 'Expired' }));
        },
      ],
    );
    const { informer } = informerFor(api);
    informer.start();
    await until(() => api.watches.length >= 2);
    await informer.stop();
    expect(api.lists).toBe(2);
  });

  it('retries a failing watch from the same resourceVersion without relisting', async () => {
    const api = await fakeApi(
      [{ items: [], rv: '7' }],
      [
        (res) => {
          res.writeHead(500);
          res.end('{"kind":"Status","code":500,"message":"etcd unavailable"}');
        },
        (res) => {
          res.writeHead(500);
          res.end();
        },
        (res) => {
          open(res, new URLSearchParams());
          line(res, 'ADDED', configMap('c', '8'));
        },
      ],
    );
    const { informer, events } = informerFor(api);
    informer.start();
    await until(() => events.includes('add ns/c'));
    await informer.stop();
    expect(api.lists).toBe(1);
    expect(api.watches.map((query) => query.get('resourceVersion'))).toEqual(['7', '7', '7']);
    expect(api.watches[0]?.get('allowWatchBookmarks')).toBe('true');
    expect(Number(api.watches[0]?.get('timeoutSeconds'))).toBeGreaterThanOrEqual(300);
  });

  it('abandons a watch that stays silent and watches again from the last bookmark', async () => {
    const api = await fakeApi(
      [{ items: [], rv: '3' }],
      [
        (res) => {
          open(res, new URLSearchParams());
          line(res, 'BOOKMARK', { kind: 'ConfigMap', metadata: { resourceVersion: '4' } });
          // …then nothing: a half-open connection.
        },
        (res) => {
          open(res, new URLSearchParams());
          line(res, 'ADDED', configMap('d', '5'));
        },
      ],
    );
    // Only the idle timer's clock is fake: the scripted server and its connections keep the real one.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { informer, events } = informerFor(api, { idleTimeoutMs: 60_000 });
    informer.start();
    await untilSettled(() => informer.resourceVersion === '4');
    await vi.advanceTimersByTimeAsync(60_000);
    await until(() => events.includes('add ns/d'));
    await informer.stop();
    expect(api.lists).toBe(1);
    expect(api.watches[1]?.get('resourceVersion')).toBe('4');
  });

  it('stop() during a connection attempt returns promptly and records no error', async () => {
    const api = await fakeApi([{ items: [], rv: '1' }], [() => undefined]);
    const { informer } = informerFor(api);
    informer.start();
    await until(() => api.watches.length === 1);
    await informer.stop();
    expect(informer.lastError).toBeUndefined();
  });
});
