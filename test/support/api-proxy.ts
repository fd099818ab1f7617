import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

/**
 * An HTTPS proxy in front of the test control plane's API server that can make a watch expire, as the
 * API server does when a watch resumes from a resourceVersion it no longer has: the client must list
 * again, and sees the objects as they are now (statuses included) as new. It presents the API server's
 * own serving certificate and forwards every request with the admin credentials, so a client pointed
 * at it (`kubeconfig`) behaves as against the API server itself.
 */
export interface ApiProxy {
  /** A kubeconfig whose server is the proxy. */
  kubeconfig: string;
  /** Cuts the open watches of `plural` and holds its new requests (lists and watches) unanswered. */
  stall(plural: string): void;
  /** Resolves once a watch of the stalled resource is held (the client came back and waits). */
  watchHeld(): Promise<void>;
  /** Answers the held watches with 410 Expired, forwards the held lists, and lets later requests through. */
  expireStalledWatches(): void;
  /**
   * Answers every POST to `path` with `body` instead of forwarding it: an answer the real API server
   * will not give (a TokenReview from an authenticator that ignores the audiences asked for).
   */
  answerPosts(path: string, body: object): void;
  close(): Promise<void>;
}

export async function startApiProxy(adminKubeconfig: string): Promise<ApiProxy> {
  const kc = new KubeConfig();
  kc.loadFromFile(adminKubeconfig);
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  if (!cluster?.caData || !user?.certData || !user.keyData)
    throw new Error('admin kubeconfig lacks certificates');
  const decode = (data: string) => Buffer.from(data, 'base64');
  const upstream = new URL(cluster.server);
  const agent = new https.Agent({
    ca: decode(cluster.caData),
    cert: decode(user.certData),
    key: decode(user.keyData),
    keepAlive: true,
  });
  const pki = path.join(path.dirname(adminKubeconfig), 'pki');
  const open = new Map<ServerResponse, string>();
  let stalled: { req: IncomingMessage; res: ServerResponse; isWatch: boolean }[] = [];
  let stalling: string | undefined;
  const heldWaiters: (() => void)[] = [];
  const answers = new Map<string, object>();

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const answer = req.method === 'POST' ? answers.get(req.url?.split('?')[0] ?? '') : undefined;
    if (answer) {
      req.resume();
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
      return;
    }
    const isWatch = /[?&]watch=(1|true)/.test(req.url ?? '');
    const resource = /\/([a-z0-9.-]+)(\?|$)/.exec(req.url ?? '')?.[1];
    if (resource !== undefined && resource === stalling) {
      stalled.push({ req, res, isWatch });
      if (isWatch) for (const resolve of heldWaiters.splice(0)) resolve();
      return;
    }
    const plural = isWatch ? resource : undefined;
    const out = https.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: upstream.host },
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
    if (plural) {
      open.set(res, plural);
      res.on('close', () => {
        open.delete(res);
        out.destroy();
      });
    }
  };

  const server = https.createServer(
    {
      cert: readFileSync(path.join(pki, 'apiserver.crt')),
      key: readFileSync(path.join(pki, 'apiserver.key')),
    },
    forward,
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const proxied = new KubeConfig();
  proxied.loadFromOptions({
    clusters: [{ ...cluster, server: `https://127.0.0.1:${port}` }],
    users: [user],
    contexts: [{ name: 'proxied', cluster: cluster.name, user: user.name }],
    currentContext: 'proxied',
  });
  const kubeconfig = path.join(mkdtempSync(path.join(tmpdir(), 'api-proxy-')), 'kubeconfig');
  writeFileSync(kubeconfig, proxied.exportConfig());

  return {
    kubeconfig,
    stall(plural) {
      stalling = plural;
      for (const [res, of] of open) if (of === plural) res.destroy();
    },
    watchHeld() {
      if (stalled.some((held) => held.isWatch)) return Promise.resolve();
      return new Promise((resolve) => heldWaiters.push(resolve));
    },
    expireStalledWatches() {
      stalling = undefined;
      const expired = {
        type: 'ERROR',
        object: {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          message: 'too old resource version',
          reason: 'Expired',
          code: 410,
        },
      };
      const held = stalled;
      stalled = [];
      for (const { req, res, isWatch } of held) {
        if (!isWatch) {
          forward(req, res);
          continue;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify(expired)}\n`);
      }
    },
    answerPosts(path, body) {
      answers.set(path, body);
    },
    async close() {
      for (const res of [...open.keys(), ...stalled.map((held) => held.res)]) res.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
