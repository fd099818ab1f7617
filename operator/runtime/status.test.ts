import { describe, expect, it } from 'vitest';
import { KubeApiError } from '../errors.ts';
import type { KubeHttp } from './kube-http.ts';
import { mergePatch, StatusWriter } from './status.ts';

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
