import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeHttp } from '../../operator/runtime/kube-http.ts';

/**
 * A node:http server playing an API server's list and watch answers from a script, for faults a real
 * API server will not produce on demand (a 500 on watch, a silent watch, a 410 inside the stream at a
 * chosen moment, a watch closed as soon as it is accepted). Behaviour against the real API server is
 * tested in test/runtime.
 */

/** Answers one watch request; the next request gets the next script, then a watch left open. */
export type WatchScript = (res: ServerResponse, query: URLSearchParams) => void;

export interface ListAnswer {
  items: object[];
  rv: string;
}

export interface ScriptedApi {
  kube: KubeHttp;
  /** List requests so far. */
  readonly lists: number;
  /** The query of every watch request so far. */
  watches: URLSearchParams[];
}

export const watchLine = (res: ServerResponse, type: string, object: unknown) =>
  res.write(`${JSON.stringify({ type, object })}\n`);

export const openWatch: WatchScript = (res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.flushHeaders();
};

const servers: Server[] = [];

/** Closes every scripted server and its connections; for afterEach. */
export async function closeScriptedApis(): Promise<void> {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** `onWatch` is told of each watch request as it arrives. */
export async function scriptedApi(
  listAnswers: ListAnswer[],
  scripts: WatchScript[],
  onWatch: () => void = () => undefined,
): Promise<ScriptedApi> {
  const state = { lists: 0, watches: [] as URLSearchParams[] };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.searchParams.get('watch') === 'true') {
      state.watches.push(url.searchParams);
      onWatch();
      (scripts.shift() ?? openWatch)(res, url.searchParams);
      return;
    }
    const list = listAnswers[Math.min(state.lists, listAnswers.length - 1)];
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
  };
}
