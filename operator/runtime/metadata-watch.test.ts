import { EventEmitter, once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../test/support/fake-clock.ts';
import {
  closeScriptedApis,
  openWatch,
  scriptedApi,
  type WatchScript,
  watchLine,
} from '../../test/support/scripted-api.ts';
import { MetadataWatch } from './metadata-watch.ts';

afterEach(closeScriptedApis);

/** Told of every watch request and every reported change, so a test waits on what happens, not on time. */
const progress = new EventEmitter();

async function until(check: () => boolean) {
  while (!check()) await once(progress, 'step');
}

/** For what no event reports (a timer set): looks again after each turn of the event loop. */
async function untilSettled(check: () => boolean) {
  while (!check()) await new Promise((resolve) => setImmediate(resolve));
}

const secret = (name: string, resourceVersion: string) => ({
  kind: 'PartialObjectMetadata',
  metadata: { name, namespace: 'ns', resourceVersion },
});

async function watchOf(scripts: WatchScript[]) {
  const api = await scriptedApi([], scripts, () => progress.emit('step'));
  const clock = new FakeClock();
  const changes: string[] = [];
  let starts = 0;
  const watch = new MetadataWatch({
    kube: api.kube,
    path: '/api/v1/secrets',
    clock,
    onStart: () => {
      starts++;
    },
    onEvent: ({ type, namespace, name }) => {
      changes.push(`${type} ${namespace}/${name}`);
      progress.emit('step');
    },
  });
  return { api, clock, watch, changes, starts: () => starts };
}

describe('MetadataWatch faults', () => {
  it('backs off on the clock, not in a loop, when the server closes each watch as soon as it accepts it', async () => {
    const acceptAndClose: WatchScript = (res) => {
      openWatch(res, new URLSearchParams());
      res.end();
    };
    const { api, clock, watch } = await watchOf([acceptAndClose, acceptAndClose, acceptAndClose]);
    // The backoff (1 s, then 2 s, ±20 %): the liveness timer of an open watch is far longer.
    const backoff = () => clock.pending().filter((ms) => ms < 10_000);
    watch.start();
    await untilSettled(() => backoff().length > 0 || api.watches.length > 3);
    expect(api.watches).toHaveLength(1);
    expect(backoff()[0]).toBeGreaterThanOrEqual(800);
    await clock.advance(backoff()[0] ?? 0);
    await until(() => api.watches.length === 2);
    await untilSettled(() => backoff().length > 0 || api.watches.length > 3);
    expect(backoff()[0]).toBeGreaterThanOrEqual(1600);
    await watch.stop();
    expect(api.watches).toHaveLength(2);
  });

  it('abandons a watch silent for two and a half bookmark intervals and watches again from where it was', async () => {
    const { api, clock, watch, changes } = await watchOf([
      (res) => {
        openWatch(res, new URLSearchParams());
        watchLine(res, 'BOOKMARK', { kind: 'PartialObjectMetadata', metadata: { resourceVersion: '4' } });
        watchLine(res, 'ADDED', secret('a', '5'));
        // …then nothing: a half-open connection.
      },
      (res) => {
        openWatch(res, new URLSearchParams());
        watchLine(res, 'MODIFIED', secret('a', '6'));
      },
    ]);
    watch.start();
    await until(() => changes.length === 1);
    await clock.advance(149_000);
    expect(api.watches).toHaveLength(1);
    await clock.advance(1_000);
    await until(() => changes.length === 2);
    await watch.stop();
    expect(changes).toEqual(['ADDED ns/a', 'MODIFIED ns/a']);
    expect(api.watches[1]?.get('resourceVersion')).toBe('5');
  });

  it('starts afresh after an ERROR 410, telling the caller every object is reported again', async () => {
    const { api, clock, watch, starts } = await watchOf([
      (res) => {
        openWatch(res, new URLSearchParams());
        watchLine(res, 'BOOKMARK', { kind: 'PartialObjectMetadata', metadata: { resourceVersion: '4' } });
        watchLine(res, 'ERROR', { kind: 'Status', code: 410, reason: 'Expired' });
      },
    ]);
    watch.start();
    // Expired at once: the hot-loop guard waits for the backoff first.
    const backoff = () => clock.pending().filter((ms) => ms < 10_000);
    await untilSettled(() => backoff().length > 0);
    await clock.advance(backoff()[0] ?? 0);
    await until(() => api.watches.length === 2);
    await untilSettled(() => starts() === 2);
    await watch.stop();
    expect(api.watches.map((query) => query.get('resourceVersion'))).toEqual([null, null]);
    expect(api.watches[0]?.get('allowWatchBookmarks')).toBe('true');
  });
});

describe('MetadataWatch events', () => {
  it("report a Secret's name and resourceVersion only, never its annotations (kubectl's last-applied data)", async () => {
    const api = await scriptedApi(
      [],
      [
        (res) => {
          openWatch(res, new URLSearchParams());
          watchLine(res, 'ADDED', {
            kind: 'PartialObjectMetadata',
            metadata: {
              name: 'applied',
              namespace: 'ns',
              resourceVersion: '3',
              annotations: {
                'kubectl.kubernetes.io/last-applied-configuration': '{"data":{"token":"c2VjcmV0"}}',
              },
            },
          });
        },
      ],
    );
    const reported: unknown[] = [];
    const watch = new MetadataWatch({
      kube: api.kube,
      path: '/api/v1/secrets',
      clock: new FakeClock(),
      onStart: () => undefined,
      onEvent: (event) => reported.push(event),
    });
    watch.start();
    await untilSettled(() => reported.length === 1);
    await watch.stop();
    expect(reported).toEqual([{ type: 'ADDED', namespace: 'ns', name: 'applied', resourceVersion: '3' }]);
  });
});
