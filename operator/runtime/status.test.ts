import { describe, expect, it } from 'vitest';
import { KubeApiError } from '../errors.ts';
import type { KubeHttp } from './kube-http.ts';
import { applyMergePatch, mergePatch, StatusWriter, toJson } from './status.ts';

describe('mergePatch', () => {
  it('is undefined when nothing changed, whatever the key order', () => {
    expect(mergePatch({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toBeUndefined();
  });

  it('sends changed and added fields, nulls removed ones, and arrays whole', () => {
    expect(
      mergePatch(
        {
          observedGeneration: 1,
          detail: 'x',
          conditions: [{ type: 'Ready' }],
          groups: { a: { ok: true, n: 1 } },
        },
        {
          observedGeneration: 2,
          conditions: [{ type: 'Ready' }, { type: 'Other' }],
          groups: { a: { ok: true, n: 2 } },
        },
      ),
    ).toEqual({
      observedGeneration: 2,
      detail: null,
      conditions: [{ type: 'Ready' }, { type: 'Other' }],
      groups: { a: { n: 2 } },
    });
  });

  it('takes a field set to undefined as absent, as JSON does, on either side', () => {
    expect(mergePatch({ a: 1, b: undefined }, { a: 1 })).toBeUndefined();
    expect(mergePatch({ a: 1 }, { a: 1, b: undefined, c: { d: undefined } })).toEqual({ c: {} });
    expect(mergePatch({ a: 1, b: { c: 2 } }, { a: undefined, b: { c: 2, d: undefined } })).toEqual({
      a: null,
    });
    expect(mergePatch({ list: [{ x: 1 }] }, { list: [{ x: 1, y: undefined }] })).toBeUndefined();
  });

  it('sends an added object without its undefined fields, and compares dates by their JSON', () => {
    const at = new Date('2026-12-06T00:00:00Z');
    expect(mergePatch({}, { a: { b: 1, c: undefined }, at })).toEqual({ a: { b: 1 }, at: at.toISOString() });
    expect(mergePatch({ at: at.toISOString() }, { at })).toBeUndefined();
  });
});

describe('applyMergePatch', () => {
  const deepFreeze = <T>(value: T): T => {
    if (value && typeof value === 'object')
      for (const child of Object.values(Object.freeze(value))) deepFreeze(child);
    return value;
  };

  it('turns what was written into what the patch was computed from, as JSON has it', () => {
    const cases: [Record<string, unknown>, Record<string, unknown>][] = [
      [{}, { phase: 'Delivering', deliveries: [{ target: 'a', state: 'Pending' }] }],
      [
        {
          phase: 'Delivering',
          deliveries: [{ target: 'a', state: 'Pending' }],
          counts: { sent: 0, failed: 1 },
        },
        { phase: 'Delivered', deliveries: [{ target: 'a', state: 'Sent' }], counts: { sent: 1 } },
      ],
      [{ a: { b: { c: 1 } }, gone: 'x' }, { a: { b: { c: 1, d: undefined }, e: [1, { f: 2 }] } }],
      [{ a: [1, 2] }, { a: { now: 'an object' } }],
      [{ a: { was: 'an object' } }, { a: 'a string' }],
    ];
    for (const [before, after] of cases) {
      const patch = mergePatch(before, after);
      expect(patch).toBeDefined();
      if (patch !== undefined) expect(applyMergePatch(deepFreeze(before), patch)).toEqual(toJson(after));
    }
  });

  it('shares every part the patch leaves as it was, and is not changed by a later change of the source', () => {
    const before = deepFreeze({ deliveries: [{ target: 'a' }], counts: { sent: 1 }, phase: 'Delivering' });
    const after = { deliveries: [{ target: 'a' }], counts: { sent: 1 }, phase: 'Delivered' };
    const patch = mergePatch(before, after);
    const written = applyMergePatch(before, patch ?? {}) as typeof before;
    expect(written).toEqual(after);
    expect(written.deliveries).toBe(before.deliveries);
    expect(written.counts).toBe(before.counts);
    after.counts.sent = 2;
    expect(written.counts.sent).toBe(1);
  });
});

describe('StatusWriter guarding identity', () => {
  it('re-reads a conflicting object through the kind, which the operator may get, not its status subresource', async () => {
    const gets: string[] = [];
    let patches = 0;
    const kube = {
      mergePatch: async () => {
        patches++;
        if (patches === 1) throw new KubeApiError(409, { reason: 'Conflict' });
        return { metadata: { resourceVersion: '3' } };
      },
      get: async (path: string) => {
        gets.push(path);
        return { metadata: { uid: 'u1', resourceVersion: '2' } };
      },
    } as unknown as KubeHttp;
    const writer = new StatusWriter(
      kube,
      { group: 'g.io', version: 'v1', plural: 'things' },
      { guardIdentity: true },
    );
    const obj = {
      metadata: { name: 'a', namespace: 'ns', uid: 'u1', resourceVersion: '1' },
      status: { x: 1 },
    };
    expect(await writer.patchIfChanged(obj, {})).toBe('patched');
    expect(gets).toEqual(['/apis/g.io/v1/namespaces/ns/things/a']);
    expect(obj.metadata.resourceVersion).toBe('3');
  });
});
