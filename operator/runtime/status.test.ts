import { describe, expect, it } from 'vitest';
import { mergePatch } from './status.ts';

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
});
