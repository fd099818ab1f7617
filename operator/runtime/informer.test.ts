import { EventEmitter, once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../test/support/fake-clock.ts';
import {
  closeScriptedApis,
  openWatch,
  type ScriptedApi,
  scriptedApi,
  type WatchScript,
  watchLine,
} from '../../test/support/scripted-api.ts';
import { Informer, type InformerEvent } from './informer.ts';

const configMap = (name: string, resourceVersion: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns', uid: `uid-${name}`, resourceVersion },
});

afterEach(closeScriptedApis);

const fakeApi = (listAnswers: Parameters<typeof scriptedApi>[0], scripts: WatchScript[]) =>
  scriptedApi(listAnswers, scripts, () => progress.emit('step'));

/** Told of every watch request and every informer event, so a test waits on what happens, not on time. */
const progress = new EventEmitter();

async function until(check: () => boolean) {
  while (!check()) await once(progress, 'step');
}

/** For what no event reports (a bookmark taken in): looks again after each turn of the event loop. */
async function untilSettled(check: () => boolean) {
  while (!check()) await new Promise((resolve) => setImmediate(resolve));
}

function informerFor(api: ScriptedApi, options: { clock?: FakeClock } = {}) {
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
          openWatch(res, new URLSearchParams());
          watchLine(res, 'ERROR', {
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
          openWatch(res, new URLSearchParams());
          watchLine(res, 'ADDED', configMap('c', '8'));
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

  it('abandons a watch silent for two and a half bookmark intervals and watches again from the last bookmark', async () => {
    const api = await fakeApi(
      [{ items: [], rv: '3' }],
      [
        (res) => {
          openWatch(res, new URLSearchParams());
          watchLine(res, 'BOOKMARK', { kind: 'ConfigMap', metadata: { resourceVersion: '4' } });
          // …then nothing: a half-open connection.
        },
        (res) => {
          openWatch(res, new URLSearchParams());
          watchLine(res, 'ADDED', configMap('d', '5'));
        },
      ],
    );
    const clock = new FakeClock();
    const { informer, events } = informerFor(api, { clock });
    informer.start();
    await untilSettled(() => informer.resourceVersion === '4');
    await clock.advance(149_000);
    expect(api.watches).toHaveLength(1);
    await clock.advance(1_000);
    await until(() => events.includes('add ns/d'));
    await informer.stop();
    expect(api.lists).toBe(1);
    expect(api.watches[1]?.get('resourceVersion')).toBe('4');
  });

  it('counts the silence from the last line, so a watch that spoke lately is kept', async () => {
    let watching: ServerResponse | undefined;
    const api = await fakeApi(
      [{ items: [], rv: '3' }],
      [
        (res) => {
          openWatch(res, new URLSearchParams());
          watchLine(res, 'BOOKMARK', { kind: 'ConfigMap', metadata: { resourceVersion: '4' } });
          watching = res;
        },
        (res) => {
          openWatch(res, new URLSearchParams());
          watchLine(res, 'ADDED', configMap('d', '6'));
        },
      ],
    );
    const clock = new FakeClock();
    const { informer, events } = informerFor(api, { clock });
    informer.start();
    await untilSettled(() => informer.resourceVersion === '4');
    await clock.advance(100_000);
    if (!watching) throw new Error('the first watch is not open');
    watchLine(watching, 'BOOKMARK', { kind: 'ConfigMap', metadata: { resourceVersion: '5' } });
    await untilSettled(() => informer.resourceVersion === '5');
    await clock.advance(149_000);
    expect(api.watches).toHaveLength(1);
    await clock.advance(1_000);
    await until(() => events.includes('add ns/d'));
    await informer.stop();
    expect(api.watches[1]?.get('resourceVersion')).toBe('5');
  });

  it('backs off on the clock when the server closes each watch as soon as it accepts it', async () => {
    const acceptAndClose: WatchScript = (res) => {
      openWatch(res, new URLSearchParams());
      res.end();
    };
    const api = await fakeApi([{ items: [], rv: '3' }], [acceptAndClose, acceptAndClose, acceptAndClose]);
    const clock = new FakeClock();
    const { informer } = informerFor(api, { clock });
    // The backoff (10 ms, then 20 ms, ±20 %): the liveness timer of an open watch is far longer.
    const backoff = () => clock.pending().filter((ms) => ms < 1_000);
    informer.start();
    await untilSettled(() => backoff().length > 0 || api.watches.length > 3);
    expect(api.watches).toHaveLength(1);
    expect(backoff()[0]).toBeGreaterThanOrEqual(8);
    await clock.advance(backoff()[0] ?? 0);
    await until(() => api.watches.length === 2);
    await untilSettled(() => backoff().length > 0 || api.watches.length > 3);
    expect(backoff()[0]).toBeGreaterThanOrEqual(16);
    await informer.stop();
    expect(api.watches).toHaveLength(2);
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

describe('Informer cache', () => {
  const inNamespace = (namespace: string, name: string, resourceVersion: string) => ({
    ...configMap(name, resourceVersion),
    metadata: { ...configMap(name, resourceVersion).metadata, namespace },
  });

  it('caches and hands out what transform makes of listed and watched objects', async () => {
    const api = await fakeApi(
      [{ items: [{ ...configMap('a', '1'), data: { big: 'x'.repeat(100) } }], rv: '1' }],
      [
        (res) => {
          openWatch(res, new URLSearchParams());
          watchLine(res, 'ADDED', { ...configMap('b', '2'), data: { big: 'y'.repeat(100) } });
        },
      ],
    );
    const informer = new Informer<{ metadata?: { name?: string }; data?: Record<string, string> }>({
      kube: api.kube,
      path: '/api/v1/configmaps',
      transform: (obj) => ({ ...obj, data: { size: String(obj.data?.big?.length) } }),
    });
    const handed: unknown[] = [];
    informer.onEvent((event) => {
      handed.push(event.object.data);
      progress.emit('step');
    });
    informer.start();
    await until(() => handed.length === 2);
    await informer.stop();
    expect(handed).toEqual([{ size: '100' }, { size: '100' }]);
    expect(informer.list().map((cm) => cm.data)).toEqual([{ size: '100' }, { size: '100' }]);
    expect(Object.isFrozen(informer.get('ns', 'b')?.data)).toBe(true);
  });

  it('keeps the cached spec object while the generation stays, across watch updates and relists', async () => {
    const resource = (resourceVersion: string, generation: number, extra: Record<string, unknown> = {}) => ({
      apiVersion: 'example.io/v1',
      kind: 'Thing',
      metadata: { name: 't', namespace: 'ns', uid: 'uid-t', resourceVersion, generation },
      spec: { wants: `generation ${generation}` },
      ...extra,
    });
    const api = await fakeApi(
      [
        { items: [resource('1', 1)], rv: '1' },
        { items: [resource('3', 1, { status: { phase: 'relisted' } })], rv: '3' },
      ],
      [
        (res) => {
          openWatch(res, new URLSearchParams());
          watchLine(res, 'MODIFIED', resource('2', 1, { status: { phase: 'written' } }));
          watchLine(res, 'ERROR', { kind: 'Status', code: 410, reason: 'Expired' });
        },
        (res) => {
          openWatch(res, new URLSearchParams());
          watchLine(res, 'MODIFIED', resource('4', 2));
        },
      ],
    );
    const informer = new Informer<{ metadata?: { resourceVersion?: string }; spec?: object }>({
      kube: api.kube,
      path: '/apis/example.io/v1/things',
      backoff: { initialMs: 10, maxMs: 50 },
    });
    const specs = new Map<string, object | undefined>();
    informer.onEvent((event) => {
      specs.set(event.object.metadata?.resourceVersion ?? '', event.object.spec);
      progress.emit('step');
    });
    informer.start();
    await until(() => specs.has('4'));
    await informer.stop();
    expect(specs.get('2')).toBe(specs.get('1'));
    expect(specs.get('3')).toBe(specs.get('1'));
    expect(specs.get('4')).not.toBe(specs.get('1'));
    expect(specs.get('4')).toEqual({ wants: 'generation 2' });
  });

  it("lists one namespace's objects from its index, which follows adds, relists and deletes", async () => {
    const api = await fakeApi(
      [
        { items: [inNamespace('one', 'a', '1'), inNamespace('two', 'b', '2')], rv: '2' },
        { items: [inNamespace('two', 'b', '2'), inNamespace('two', 'c', '4')], rv: '4' },
      ],
      [
        (res) => {
          openWatch(res, new URLSearchParams());
          watchLine(res, 'ADDED', inNamespace('one', 'd', '3'));
          watchLine(res, 'ERROR', { kind: 'Status', code: 410, reason: 'Expired' });
        },
        (res) => {
          openWatch(res, new URLSearchParams());
          watchLine(res, 'DELETED', inNamespace('two', 'b', '5'));
        },
      ],
    );
    const { informer, events } = informerFor(api);
    const names = (namespace: string) => informer.list(namespace).map((cm) => cm.metadata?.name);
    informer.start();
    await until(() => events.includes('add one/d'));
    expect(names('one')).toEqual(['a', 'd']);
    await until(() => events.includes('delete two/b'));
    await informer.stop();
    // The relist dropped a and d of namespace one; the watch then deleted b.
    expect(names('one')).toEqual([]);
    expect(names('two')).toEqual(['c']);
    expect(names('three')).toEqual([]);
  });
});
