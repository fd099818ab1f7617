import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import type { V1Secret } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock, settled } from '../../test/support/fake-clock.ts';
import type { InformerEvent, InformerHandler } from '../runtime/informer.ts';
import { KubeHttp } from '../runtime/kube-http.ts';
import type { CustomObject } from './context.ts';
import { READ_CONCURRENCY, ReferenceStore } from './reference-store.ts';

/**
 * The store against a scripted API server: which requests it makes (GETs by name, a metadata-only watch,
 * never a list), how many it has in flight, and what it holds. Behaviour against the real API server: test/isolation/secret-hoarding.
 */

const secretObject = (name: string, resourceVersion: string, value: string) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace: 'ns', uid: `uid-${name}`, resourceVersion },
  data: { key: Buffer.from(value).toString('base64') },
});

let server: Server | undefined;
let store: ReferenceStore<V1Secret> | undefined;
afterEach(async () => {
  await store?.stop();
  server?.closeAllConnections();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
});

/** `forbidden`: while it holds `ns`, every request in that namespace is answered 403, as without a RoleBinding. */
async function fakeApi(secrets: Map<string, ReturnType<typeof secretObject>>, forbidden = new Set<string>()) {
  const requests: { path: string; watch: boolean; accept: string }[] = [];
  let watch: ServerResponse | undefined;
  const closedWatches: string[] = [];
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const isWatch = url.searchParams.get('watch') === 'true';
    requests.push({ path: url.pathname, watch: isWatch, accept: String(req.headers.accept) });
    if (forbidden.has('ns') && url.pathname.startsWith('/api/v1/namespaces/ns/')) {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', code: 403, reason: 'Forbidden' }));
      return;
    }
    if (isWatch) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      res.on('close', () => closedWatches.push(url.pathname));
      watch = res;
      return;
    }
    const name = url.pathname.split('/').pop() ?? '';
    const found = url.pathname.startsWith('/api/v1/namespaces/ns/secrets/') ? secrets.get(name) : undefined;
    res.writeHead(found ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(found ?? { kind: 'Status', code: 404, reason: 'NotFound' }));
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kube = new KubeHttp(
    { getCurrentCluster: () => ({ server: address }), applyToHTTPSOptions: async () => undefined },
    { connections: null },
  );
  const modified = (name: string, resourceVersion: string) =>
    watch?.write(
      `${JSON.stringify({ type: 'MODIFIED', object: { metadata: { name, namespace: 'ns', resourceVersion } } })}\n`,
    );
  return { kube, requests, modified, closedWatches };
}

/** DingTalkServices as the store sees them: each names the Secrets in its spec.refs. */
function fakeServices(initial: CustomObject[]) {
  const handlers = new Set<InformerHandler<CustomObject>>();
  const services = new Map(initial.map((s) => [`ns/${s.metadata?.name}`, s]));
  return {
    informers: [
      {
        onEvent: (handler: InformerHandler<CustomObject>) => {
          handlers.add(handler);
          return () => handlers.delete(handler);
        },
        waitForSync: async () => undefined,
      },
    ],
    list: () => [...services.values()],
    /** With a generation, as the API server keeps one: the same generation is a write of the status alone. */
    set(name: string, refs: string[] | undefined, generation?: number) {
      const object = { metadata: { name, namespace: 'ns', generation }, spec: { refs } };
      const oldObject = services.get(`ns/${name}`) ?? object;
      const event = (refs ? { type: 'update', oldObject } : { type: 'delete' }) as Partial<
        InformerEvent<CustomObject>
      >;
      if (refs) services.set(`ns/${name}`, object);
      else services.delete(`ns/${name}`);
      for (const handler of handlers)
        handler({
          ...event,
          key: `ns/${name}`,
          namespace: 'ns',
          name,
          object,
        } as InformerEvent<CustomObject>);
    },
  };
}

const service = (name: string, refs: string[]): CustomObject => ({
  metadata: { name, namespace: 'ns' },
  spec: { refs },
});

/** The first event of the store that matches, from the moment of the call. */
function nextEvent(
  s: ReferenceStore<V1Secret>,
  match: (event: InformerEvent<V1Secret>) => boolean,
): Promise<InformerEvent<V1Secret>> {
  return new Promise((resolve) =>
    s.onEvent((event) => {
      if (match(event)) resolve(event);
    }),
  );
}

const refsOf = (s: CustomObject) => new Set((s.spec as { refs?: string[] }).refs ?? []);

function startStore(
  api: Awaited<ReturnType<typeof fakeApi>>,
  services: ReturnType<typeof fakeServices>,
  referenced = refsOf,
) {
  store = new ReferenceStore<V1Secret>({
    kube: api.kube,
    plural: 'secrets',
    namespaces: ['ns'],
    referrers: services,
    referenced,
    logger: pino({ level: process.env.DBG ? 'debug' : 'silent' }),
  });
  store.start();
  return store;
}

describe('ReferenceStore', () => {
  it('reads referenced Secrets by name and watches metadata only, never listing', async () => {
    const api = await fakeApi(
      new Map([
        ['robot', secretObject('robot', '1', 'a')],
        ['other', secretObject('other', '1', 'b')],
      ]),
    );
    const s = startStore(api, fakeServices([service('svc', ['robot', 'missing'])]));
    await s.waitForSync();
    expect(s.get('ns', 'robot')?.metadata?.resourceVersion).toBe('1');
    expect(s.get('ns', 'missing')).toBeUndefined();
    expect(s.list().map((o) => o.metadata?.name)).toEqual(['robot']);
    // Each is read once, after the watch started: a change or deletion before would be missed otherwise.
    const gets = api.requests.filter((r) => !r.watch).map((r) => r.path);
    expect(gets.sort()).toEqual([
      '/api/v1/namespaces/ns/secrets/missing',
      '/api/v1/namespaces/ns/secrets/robot',
    ]);
    const watches = api.requests.filter((r) => r.watch);
    expect(watches).toEqual([
      {
        path: '/api/v1/namespaces/ns/secrets',
        watch: true,
        accept: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1',
      },
    ]);
  });

  it('reads a referenced Secret again when the watch reports a new resourceVersion, and only that one', async () => {
    const secrets = new Map([['robot', secretObject('robot', '1', 'old')]]);
    const api = await fakeApi(secrets);
    const s = startStore(api, fakeServices([service('svc', ['robot'])]));
    await s.waitForSync();
    const first = nextEvent(s, () => true);

    secrets.set('robot', secretObject('robot', '2', 'new'));
    api.modified('unrelated-helm-release', '7');
    api.modified('robot', '2');
    // The unrelated change came first: had it led to an event, that would be the first.
    expect(await first).toMatchObject({ type: 'update', name: 'robot' });
    expect(s.get('ns', 'robot')?.data?.key).toBe(Buffer.from('new').toString('base64'));
    expect(api.requests.filter((r) => r.path.endsWith('/unrelated-helm-release'))).toEqual([]);
  });

  it('drops a Secret once no service refers to it, and reads one a service starts to refer to', async () => {
    const api = await fakeApi(
      new Map([
        ['a', secretObject('a', '1', 'x')],
        ['b', secretObject('b', '1', 'y')],
      ]),
    );
    const services = fakeServices([service('svc', ['a'])]);
    const s = startStore(api, services);
    await s.waitForSync();
    const bAdded = nextEvent(s, (event) => event.type === 'add' && event.name === 'b');
    services.set('svc', ['b']);
    await bAdded;
    expect(s.get('ns', 'b')).toBeDefined();
    expect(s.get('ns', 'a')).toBeUndefined();
    services.set('svc', undefined);
    expect(s.list()).toEqual([]);
  });

  it("works out a service's references again when its generation changes, not when its status is written", async () => {
    const api = await fakeApi(
      new Map([
        ['a', secretObject('a', '1', 'x')],
        ['b', secretObject('b', '1', 'y')],
      ]),
    );
    const services = fakeServices([
      { ...service('svc', ['a']), metadata: { name: 'svc', namespace: 'ns', generation: 1 } },
    ]);
    let workedOut = 0;
    const s = startStore(api, services, (referrer) => {
      workedOut++;
      return refsOf(referrer);
    });
    await s.waitForSync();
    const atStart = workedOut;
    services.set('svc', ['a'], 1);
    expect(workedOut).toBe(atStart);
    const bAdded = nextEvent(s, (event) => event.type === 'add' && event.name === 'b');
    services.set('svc', ['b'], 2);
    expect(workedOut).toBe(atStart + 1);
    await bAdded;
    expect(s.get('ns', 'a')).toBeUndefined();
  });
});

/**
 * An API server whose GETs hang until the test answers them, counting how many are in flight, and whose
 * metadata watches stay open until the test ends one with 410 Gone.
 */
function heldApi() {
  const held: (() => void)[] = [];
  const gets: string[] = [];
  /** The version each GET answers with, by name; '1' otherwise. */
  const versions = new Map<string, string>();
  const watches: PassThrough[] = [];
  let inFlight = 0;
  let most = 0;
  const kube = {
    get: (path: string) => {
      most = Math.max(most, ++inFlight);
      gets.push(path);
      const name = path.split('/').pop() ?? '';
      return new Promise((resolve) =>
        held.push(() => resolve(secretObject(name, versions.get(name) ?? '1', name))),
      ).finally(() => inFlight--);
    },
    stream: async (_path: string, { signal }: { signal: AbortSignal }) => {
      const body = new PassThrough();
      signal.addEventListener('abort', () => body.destroy(signal.reason), { once: true });
      watches.push(body);
      return body;
    },
  } as unknown as KubeHttp;
  return {
    kube,
    watches,
    gets,
    versions,
    /** What the metadata watch reports of an existing Secret. */
    added: (name: string, resourceVersion: string) =>
      watches
        .at(-1)
        ?.write(
          `${JSON.stringify({ type: 'ADDED', object: { metadata: { name, namespace: 'ns', resourceVersion } } })}\n`,
        ),
    inFlight: () => inFlight,
    /** The most GETs in flight since the last call. */
    most: () => {
      const seen = most;
      most = inFlight;
      return seen;
    },
    /** Answers the GETs waiting now. */
    async answerWaiting() {
      await settled();
      for (const answer of held.splice(0)) answer();
      await settled();
    },
    /** Answers every GET, and those the answers let start, until none is left. */
    async answerAll() {
      await settled();
      while (held.length > 0) {
        for (const answer of held.splice(0)) answer();
        await settled();
      }
    },
  };
}

/** A store of `count` services, each naming Secret robot-<i>, against heldApi(). */
function startHeld(api: ReturnType<typeof heldApi>, count: number, clock = new FakeClock()) {
  store = new ReferenceStore<V1Secret>({
    kube: api.kube,
    plural: 'secrets',
    namespaces: ['ns'],
    referrers: fakeServices(Array.from({ length: count }, (_, i) => service(`svc-${i}`, [`robot-${i}`]))),
    referenced: (s) => new Set((s.spec as { refs?: string[] }).refs ?? []),
    logger: pino({ level: 'silent' }),
    clock,
  });
  store.start();
  return store;
}

describe('ReferenceStore reading many Secrets', () => {
  it(`reads at most ${READ_CONCURRENCY} at once, at start and again after the watch expires (410)`, async () => {
    const api = heldApi();
    const clock = new FakeClock();
    const count = 40;
    store = startHeld(api, count, clock);
    await settled();
    expect(api.inFlight()).toBe(READ_CONCURRENCY);
    await api.answerAll();
    await store.waitForSync();
    expect(store.size).toBe(count);
    expect(api.most()).toBe(READ_CONCURRENCY);

    // A fresh watch may have missed deletions, so every referenced Secret is read again.
    api.watches[0]?.write(
      `${JSON.stringify({ type: 'ERROR', object: { code: 410, message: 'too old' } })}\n`,
    );
    await clock.advance(60_000);
    expect(api.watches).toHaveLength(2);
    expect(api.inFlight()).toBe(READ_CONCURRENCY);
    await api.answerAll();
    expect(api.most()).toBe(READ_CONCURRENCY);
    expect(api.inFlight()).toBe(0);
  });
});

describe('ReferenceStore starting', () => {
  it("reads each referenced Secret once, though the watch's first events report it while it is read", async () => {
    const api = heldApi();
    const s = startHeld(api, 3);
    await settled();
    for (let i = 0; i < 3; i++) api.added(`robot-${i}`, '1');
    await api.answerAll();
    await s.waitForSync();
    expect(api.gets.sort()).toEqual([0, 1, 2].map((i) => `/api/v1/namespaces/ns/secrets/robot-${i}`));
  });

  it('reads a Secret again when the watch reported a version its read under way did not find', async () => {
    const api = heldApi();
    const s = startHeld(api, 1);
    await settled();
    api.added('robot-0', '2');
    await settled();
    expect(api.gets).toHaveLength(1);
    // The read answers with the version before the one the watch reported: it is read again.
    await api.answerWaiting();
    expect(api.gets).toHaveLength(2);
    api.versions.set('robot-0', '2');
    await api.answerAll();
    await s.waitForSync();
    expect(api.gets).toHaveLength(2);
    expect(s.get('ns', 'robot-0')?.metadata?.resourceVersion).toBe('2');
  });
});

describe('ReferenceStore with per-namespace access', () => {
  it('asks for no cluster-wide watch, says which read was refused, and reads it once a RoleBinding allows it', async () => {
    const forbidden = new Set(['ns']);
    const api = await fakeApi(new Map([['robot', secretObject('robot', '1', 'a')]]), forbidden);
    const clock = new FakeClock();
    store = new ReferenceStore<V1Secret>({
      kube: api.kube,
      plural: 'secrets',
      namespaces: [],
      perNamespaceAccess: true,
      accessGrant: (namespace) => `create RoleBinding "grant" in ${namespace}`,
      referrers: fakeServices([service('svc', ['robot'])]),
      referenced: (s) => new Set((s.spec as { refs?: string[] }).refs ?? []),
      logger: pino({ level: 'silent' }),
      clock,
    });
    store.start();
    // A refused read ends: the store syncs and the service's reconcile goes on to say why.
    await store.waitForSync();
    await store.settled('ns', ['robot']);
    expect(store.get('ns', 'robot')).toBeUndefined();
    expect(store.denied('ns', 'robot')).toBe('create RoleBinding "grant" in ns');
    expect(api.requests.filter((r) => r.watch)).toEqual([]);

    const added = nextEvent(store, (event) => event.type === 'add');
    forbidden.delete('ns');
    await clock.advance(30_000);
    expect(await added).toMatchObject({ name: 'robot' });
    expect(store.denied('ns', 'robot')).toBeUndefined();
    // Now it may read there, the namespace is watched: a rotated Secret is noticed without a re-read.
    await expect
      .poll(() => api.requests.filter((r) => r.watch).map((r) => r.path))
      .toEqual(['/api/v1/namespaces/ns/secrets']);
  });

  it('stops watching a namespace once no service there refers to any of its Secrets', async () => {
    const api = await fakeApi(new Map([['robot', secretObject('robot', '1', 'a')]]));
    const services = fakeServices([service('svc', ['robot'])]);
    store = new ReferenceStore<V1Secret>({
      kube: api.kube,
      plural: 'secrets',
      namespaces: [],
      perNamespaceAccess: true,
      referrers: services,
      referenced: (s) => new Set((s.spec as { refs?: string[] }).refs ?? []),
      logger: pino({ level: 'silent' }),
    });
    store.start();
    await store.waitForSync();
    await expect.poll(() => api.requests.filter((r) => r.watch).length).toBe(1);
    services.set('svc', undefined);
    await expect.poll(() => api.closedWatches).toEqual(['/api/v1/namespaces/ns/secrets']);
  });
});
