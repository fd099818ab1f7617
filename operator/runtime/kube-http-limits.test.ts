import { createServer as createHttpServer, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer, type Socket, type Server as TcpServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { instantClock } from '../../test/support/instant-clock.ts';
import { type KubeApiError, KubeUnavailableError } from '../errors.ts';
import type { KubeEndpoint } from './kube-endpoint.ts';
import { KubeHttp, type KubeHttpOptions } from './kube-http.ts';
import type { Clock } from './timers.ts';

/**
 * The client's rate limit, its retry policy for answers asking to come back later, and its deadline,
 * against scripted node:http and node:net servers (a real API server throttling is
 * test/runtime/api-priority.test.ts). Waits go through a fake clock that records them and waits for none.
 */

let closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.reverse()) await close();
  closers = [];
});

interface Seen {
  method: string;
  url: string;
}

async function fakeApi(answer: (req: Seen, index: number, res: ServerResponse) => void) {
  const seen: Seen[] = [];
  const server: HttpServer = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const request = { method: req.method ?? '', url: req.url ?? '' };
      seen.push(request);
      answer(request, seen.length - 1, res);
    });
  });
  let connections = 0;
  server.on('connection', () => connections++);
  await listen(server);
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return {
    seen,
    server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
  };
}

async function listen(server: HttpServer | TcpServer): Promise<void> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
}

function client(server: string, options: KubeHttpOptions) {
  const endpoint: KubeEndpoint = {
    getCurrentCluster: () => ({ server }),
    applyToHTTPSOptions: async () => undefined,
  };
  const http = new KubeHttp(endpoint, options);
  closers.push(() => http.close());
  return http;
}

function answer(res: ServerResponse, status: number, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(status < 300 ? { ok: true } : { kind: 'Status', code: status, reason: 'Busy' }));
}

describe('KubeHttp rate limit', () => {
  it('paces calls and list pages beyond the burst at qps, and never a watch', async () => {
    const api = await fakeApi((_req, _i, res) => answer(res, 200));
    const { clock, slept } = instantClock();
    const http = client(api.server, { rateLimit: { qps: 10, burst: 2 }, clock });
    await http.get('/a');
    await http.mergePatch('/a', {});
    expect(slept).toEqual([]);
    await http.delete('/a');
    await (await http.stream('/list', { query: { limit: 500 } })).json();
    expect(slept).toEqual([100, 100]);

    const watch = await http.stream('/list', { query: { watch: true } });
    await watch.json();
    expect(slept).toEqual([100, 100]);
    expect(api.seen).toHaveLength(5);
  });

  it('gives a client made with withOwnRateLimit a bucket of its own over the same connections', async () => {
    const api = await fakeApi((_req, _i, res) => answer(res, 200));
    const { clock, slept } = instantClock();
    const http = client(api.server, { rateLimit: { qps: 10, burst: 2 }, clock });
    const events = http.withOwnRateLimit();
    await http.get('/a');
    await http.get('/b');
    const opened = api.connections();
    await events.post('/events', {});
    await events.post('/events', {});
    expect(slept).toEqual([]);
    // Its own burst spent, it waits for its own next token.
    await events.post('/events', {});
    expect(slept).toEqual([100]);
    expect(api.seen).toHaveLength(5);
    // Its calls went over the connections the first client opened.
    expect(api.connections()).toBe(opened);
  });

  it('fails a call at once when its token would come after its deadline', async () => {
    const api = await fakeApi((_req, _i, res) => answer(res, 200));
    const { clock, slept } = instantClock();
    const http = client(api.server, { rateLimit: { qps: 0.1, burst: 1 }, timeoutMs: 5_000, clock });
    await http.get('/a');
    const err = await http.get('/b').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeUnavailableError);
    expect((err as Error).message).toContain('rate limit');
    expect(slept).toEqual([]);
    expect(api.seen).toHaveLength(1);
  });
});

describe('KubeHttp retries of answers asking to come back later', () => {
  it('retries a 429 after its Retry-After, through the rate limit, and reports each', async () => {
    const api = await fakeApi((_req, i, res) =>
      i < 2 ? answer(res, 429, { 'retry-after': '2' }) : answer(res, 200),
    );
    const { clock, slept } = instantClock();
    const reports: { status: number; retried: boolean }[] = [];
    const http = client(api.server, {
      clock,
      rateLimit: { qps: 1, burst: 1 },
      onComeBackLater: (report) => reports.push(report),
    });
    expect(await http.get('/a')).toEqual({ ok: true });
    expect(api.seen).toHaveLength(3);
    // Each retry waits the 2 s asked for; its token came due during that wait, so the limit adds none.
    expect(slept).toEqual([2000, 2000]);
    expect(reports).toEqual([
      { status: 429, retried: true },
      { status: 429, retried: true },
    ]);
  });

  it('retries PUT, DELETE, merge patches and apply, and 5xx only with Retry-After', async () => {
    let fail = true;
    const api = await fakeApi((req, _i, res) => {
      const first = fail;
      fail = !fail;
      if (!first) return answer(res, 200);
      if (req.url === '/no-retry-after') return answer(res, 503);
      answer(res, req.method === 'DELETE' ? 429 : 503, { 'retry-after': '1' });
    });
    const { clock, slept } = instantClock();
    const http = client(api.server, { clock });
    await http.put('/a', { metadata: { resourceVersion: '3' } });
    await http.delete('/a');
    await http.mergePatch('/a/status', { status: {} });
    await http.apply('/a/status', { status: {} }, { fieldManager: 'm', force: true });
    expect(slept).toEqual([1000, 1000, 1000, 1000]);
    expect(api.seen.map((r) => r.method)).toEqual([
      'PUT',
      'PUT',
      'DELETE',
      'DELETE',
      'PATCH',
      'PATCH',
      'PATCH',
      'PATCH',
    ]);

    fail = true;
    await expect(http.get('/no-retry-after')).rejects.toBeInstanceOf(KubeUnavailableError);
    expect(api.seen).toHaveLength(9);
    expect(slept).toHaveLength(4);
  });

  it('retries a POST only when the caller says it may run twice', async () => {
    const api = await fakeApi((_req, i, res) => (i % 2 === 0 ? answer(res, 429) : answer(res, 201)));
    const { clock, slept } = instantClock();
    const http = client(api.server, { clock });
    const err = await http.post('/things', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeUnavailableError);
    expect(((err as Error).cause as KubeApiError).status).toBe(429);
    expect(api.seen).toHaveLength(1);

    await http.post('/things', {}); // the second answer: 201
    expect(await http.post('/things', {}, { idempotent: true })).toEqual({ ok: true });
    // A 429 without Retry-After waits a second.
    expect(slept).toEqual([1000]);
    expect(api.seen).toHaveLength(4);
  });

  it('gives up after four calls, with the last Retry-After, for the caller to back off', async () => {
    const api = await fakeApi((_req, _i, res) => answer(res, 429, { 'retry-after': '3' }));
    const { clock, slept } = instantClock();
    const reports: boolean[] = [];
    const http = client(api.server, { clock, onComeBackLater: ({ retried }) => reports.push(retried) });
    const err = await http.get('/a').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeUnavailableError);
    expect((err as KubeUnavailableError).retryAfter).toBe(3);
    expect(api.seen).toHaveLength(4);
    expect(slept).toEqual([3000, 3000, 3000]);
    expect(reports).toEqual([true, true, true, false]);
  });

  it('does not wait for a Retry-After beyond 10 s or beyond the deadline', async () => {
    const api = await fakeApi((req, _i, res) =>
      answer(res, 429, { 'retry-after': req.url === '/long' ? '11' : '6' }),
    );
    const { clock, slept } = instantClock();
    const http = client(api.server, { clock, timeoutMs: 5_000 });
    const long = await http.get('/long').catch((e: unknown) => e);
    expect((long as KubeUnavailableError).retryAfter).toBe(11);
    const pastDeadline = await http.get('/a').catch((e: unknown) => e);
    expect((pastDeadline as KubeUnavailableError).retryAfter).toBe(6);
    expect(api.seen).toHaveLength(2);
    expect(slept).toEqual([]);
  });

  it('stops waiting when the caller aborts, with the abort', async () => {
    const api = await fakeApi((_req, _i, res) => answer(res, 429, { 'retry-after': '1' }));
    const stop = new AbortController();
    const clock: Clock = {
      ...instantClock().clock,
      timer: () => {
        queueMicrotask(() => stop.abort(new Error('stopped')));
        return () => undefined;
      },
    };
    const http = client(api.server, { clock });
    await expect(http.get('/a', { signal: stop.signal })).rejects.toThrow('stopped');
    expect(api.seen).toHaveLength(1);
  });
});

describe('KubeHttp deadline', () => {
  type Answer = 'nothing' | 'headers only' | 'a byte every 50 ms';
  /**
   * A server that accepts connections and requests and answers as `answer` says, never in full;
   * `answering` resolves once it has sent the headers of an answer.
   */
  async function stallingServer(answer: Answer) {
    const sockets: Socket[] = [];
    let headersSent: () => void = () => undefined;
    const answering = new Promise<void>((resolve) => {
      headersSent = resolve;
    });
    const server = createTcpServer((socket) => {
      sockets.push(socket);
      socket.once('data', () => {
        if (answer === 'nothing') return;
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{');
        headersSent();
        if (answer === 'headers only') return;
        const drip = setInterval(() => socket.write(' '), 50);
        socket.on('close', () => clearInterval(drip));
      });
    });
    await listen(server);
    closers.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    });
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, answering };
  }

  it('fails a call to a server that never answers, stops mid-answer or trickles, once the deadline passes', async () => {
    for (const answer of ['nothing', 'headers only', 'a byte every 50 ms'] as const) {
      const http = client((await stallingServer(answer)).url, { timeoutMs: 300 });
      const err = await http.get('/a').catch((e: unknown) => e);
      expect(err, answer).toBeInstanceOf(KubeUnavailableError);
      expect((err as Error).message, answer).toContain('no answer within the 300 ms deadline');
    }
  });

  it('rejects with the abort when the caller aborts mid-answer', async () => {
    const server = await stallingServer('a byte every 50 ms');
    const caller = new AbortController();
    const call = client(server.url, { timeoutMs: 30_000 }).get('/a', { signal: caller.signal });
    await server.answering;
    caller.abort(new Error('stopped'));
    await expect(call).rejects.toThrow('stopped');
  });
});
