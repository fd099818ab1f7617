import { createHook } from 'node:async_hooks';
import { getEventListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeApiError, KubeUnavailableError, toKubeApiError } from '../errors.ts';
import type { KubeEndpoint } from './kube-endpoint.ts';
import { KubeHttp } from './kube-http.ts';

/**
 * What goes over the wire and how answers come back, against a scripted node:http server (faults a real
 * API server does not produce on demand). The calls against the real API server are covered by the
 * tests of their callers in test/runtime and test/controllers.
 */

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let servers: Server[] = [];
let clients: KubeHttp[] = [];
afterEach(async () => {
  await Promise.all(clients.map((client) => client.close()));
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  servers = [];
  clients = [];
});

type Handler = (req: Seen, res: ServerResponse) => void;

async function fakeApi(handler: Handler) {
  const seen: Seen[] = [];
  let connections = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const request = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(request);
      handler(request, res);
    });
  });
  server.on('connection', () => connections++);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    seen,
    connections: () => connections,
    server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
  };
}

function endpoint(server: string, token: () => string = () => 'first'): KubeEndpoint {
  return {
    getCurrentCluster: () => ({ server }),
    applyToHTTPSOptions: async (options) => {
      options.headers = { Authorization: `Bearer ${token()}` };
    },
  };
}

function client(
  server: string,
  options: ConstructorParameters<typeof KubeHttp>[1] = {},
  token?: () => string,
) {
  const http = new KubeHttp(endpoint(server, token), options);
  clients.push(http);
  return http;
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

const status = (code: number, reason: string) => ({
  kind: 'Status',
  code,
  reason,
  message: `${reason} here`,
});

describe('KubeHttp', () => {
  it('sends each verb with its content type, the query and the credentials, and parses the answer', async () => {
    const api = await fakeApi((req, res) => json(res, 200, { echo: req.method }));
    const http = client(api.server);
    const path = '/apis/g/v1/namespaces/ns/things/a';
    expect(await http.get(path, { query: { labelSelector: 'x=y', limit: 5, continue: undefined } })).toEqual({
      echo: 'GET',
    });
    await http.post('/apis/g/v1/namespaces/ns/things', { metadata: { name: 'a' } });
    await http.put(path, { metadata: { name: 'a', resourceVersion: '7' } });
    await http.mergePatch(`${path}/status`, { status: { x: null } });
    await http.apply(`${path}/status`, { status: { y: 1 } }, { fieldManager: 'mine', force: true });
    await http.delete(path);

    expect(api.seen.map((r) => [r.method, r.url, r.headers['content-type'], r.body])).toEqual([
      ['GET', `${path}?labelSelector=x%3Dy&limit=5`, undefined, ''],
      ['POST', '/apis/g/v1/namespaces/ns/things', 'application/json', '{"metadata":{"name":"a"}}'],
      ['PUT', path, 'application/json', '{"metadata":{"name":"a","resourceVersion":"7"}}'],
      ['PATCH', `${path}/status`, 'application/merge-patch+json', '{"status":{"x":null}}'],
      [
        'PATCH',
        `${path}/status?fieldManager=mine&force=true`,
        'application/apply-patch+yaml',
        '{"status":{"y":1}}',
      ],
      ['DELETE', path, undefined, ''],
    ]);
    for (const request of api.seen) {
      expect(request.headers.authorization).toBe('Bearer first');
      expect(request.headers['user-agent']).toBe('dingtalk-operator');
      expect(request.headers.accept).toBe('application/json');
    }
  });

  it('keeps its connections: calls one after another reuse them instead of opening one each', async () => {
    const api = await fakeApi((_req, res) => json(res, 200, {}));
    const http = client(api.server, { connections: null });
    for (let i = 0; i < 10; i++) await http.get('/api/v1/namespaces/ns/secrets/a');
    expect(api.seen).toHaveLength(10);
    // undici may open a second one while the first is being released; client-node opened ten.
    expect(api.connections()).toBeLessThan(5);
  });

  it('throws KubeApiError with the Status for a refusal (404, 409, 410), which callers branch on', async () => {
    const answers = [status(404, 'NotFound'), status(409, 'Conflict'), status(410, 'Expired')];
    const api = await fakeApi((_req, res) => {
      const answer = answers.shift() ?? status(400, 'BadRequest');
      json(res, answer.code, answer);
    });
    const http = client(api.server);
    for (const [code, reason] of [
      [404, 'NotFound'],
      [409, 'Conflict'],
      [410, 'Expired'],
    ] as const) {
      const err = await http.put('/x', {}).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KubeApiError);
      expect(toKubeApiError(err)).toMatchObject({
        status: code,
        reason,
        message: expect.stringContaining('here'),
      });
    }
  });

  it('throws KubeUnavailableError for 5xx and 429, with the Retry-After the server asked for', async () => {
    const api = await fakeApi((_req, res) =>
      json(res, 429, status(429, 'TooManyRequests'), { 'retry-after': '7' }),
    );
    const err = await client(api.server)
      .post('/x', {})
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeUnavailableError);
    expect((err as KubeUnavailableError).retryAfter).toBe(7);
    expect(((err as Error).cause as KubeApiError).status).toBe(429);
    // Not a refusal: a caller looking for 404 or 409 finds none.
    expect(toKubeApiError(err)).toBeUndefined();
  });

  it('throws KubeUnavailableError when nobody answers or the answer takes longer than its deadline', async () => {
    const api = await fakeApi(() => undefined);
    const slow = await client(api.server, { timeoutMs: 20 })
      .get('/x')
      .catch((e: unknown) => e);
    expect(slow).toBeInstanceOf(KubeUnavailableError);

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await client(`http://127.0.0.1:${port}`)
      .get('/x')
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(KubeUnavailableError);
    expect((refused as Error).message).toContain('ECONNREFUSED');
  });

  it("lets go of each call's deadline timer when the call ends, answered or refused", async () => {
    // A distinctive deadline tells the call's timer apart from undici's and the test runner's.
    const timeoutMs = 31_234;
    const deadlineTimers = new Set<number>();
    const hook = createHook({
      init(id, type, _trigger, resource) {
        if (type === 'Timeout' && (resource as { _idleTimeout?: number })._idleTimeout === timeoutMs)
          deadlineTimers.add(id);
      },
      destroy(id) {
        deadlineTimers.delete(id);
      },
    }).enable();
    try {
      const api = await fakeApi((req, res) =>
        req.url === '/x' ? json(res, 200, {}) : json(res, 404, status(404, 'NotFound')),
      );
      const http = client(api.server, { timeoutMs });
      const caller = new AbortController();
      await http.get('/x', { signal: caller.signal });
      await expect(http.get('/missing')).rejects.toMatchObject({ status: 404 });
      expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
      // A cleared timer is destroyed on the next turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
      expect(deadlineTimers.size).toBe(0);
    } finally {
      hook.disable();
    }
  });

  it('reads the credentials again after a 401, so a rotated token is used at once', async () => {
    let token = 'old';
    const api = await fakeApi((req, res) =>
      req.headers.authorization === 'Bearer new'
        ? json(res, 200, {})
        : json(res, 401, status(401, 'Unauthorized')),
    );
    const http = client(api.server, {}, () => token);
    await expect(http.get('/x')).rejects.toMatchObject({ status: 401 });
    token = 'new';
    await expect(http.get('/x')).resolves.toEqual({});
  });

  it('streams a GET as it arrives, with the accept header asked for', async () => {
    let finish: () => void = () => undefined;
    const api = await fakeApi((req, res) => {
      if (req.url === '/hangs') return;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"type":"ADDED"}\n');
      finish = () => res.end('{"type":"DELETED"}\n');
    });
    const accept = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';
    const http = client(api.server, { timeoutMs: 50 });
    const body = await http.stream('/api/v1/secrets', { query: { watch: true }, accept });
    const lines: string[] = [];
    for await (const chunk of body) {
      if (lines.length === 0) {
        // The first line came before the answer ended. A JSON call started after it gives up on the same
        // deadline before the answer goes on, so a stream under that deadline would be cut by now.
        await expect(http.get('/hangs')).rejects.toBeInstanceOf(KubeUnavailableError);
        finish();
      }
      lines.push(...String(chunk).split('\n').filter(Boolean));
    }
    expect(lines).toEqual(['{"type":"ADDED"}', '{"type":"DELETED"}']);
    expect(api.seen[0]?.url).toBe('/api/v1/secrets?watch=true');
    expect(api.seen[0]?.headers.accept).toBe(accept);
  });

  it('throws KubeApiError for a streamed GET the server refuses, and the abort when the caller aborts', async () => {
    const api = await fakeApi((req, res) => {
      if (req.url.startsWith('/gone')) json(res, 410, status(410, 'Expired'));
    });
    const http = client(api.server);
    await expect(http.stream('/gone', {})).rejects.toMatchObject({ status: 410, reason: 'Expired' });

    const stop = new AbortController();
    const hanging = http.stream('/hangs', { signal: stop.signal });
    stop.abort(new Error('stopped'));
    const err = await hanging.catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(KubeUnavailableError);
  });
});
