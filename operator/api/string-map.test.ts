import { describe, expect, it } from 'vitest';
import { characters, fitStringMap, MAX_KEY_LENGTH, stringMap } from './string-map.ts';

describe('stringMap', () => {
  const map = stringMap(4, 10, 20);

  it('bounds entries, values, key length and the total of keys and values, as its CEL rules do', () => {
    expect(map.safeParse({ a: '1234567890', b: '1' }).success).toBe(true);
    expect(map.safeParse({ a: '1234567890', bb: '12345678' }).success).toBe(false);
    expect(stringMap(4, 10).safeParse({ ['k'.repeat(MAX_KEY_LENGTH)]: 'v' }).success).toBe(true);
    expect(stringMap(4, 10).safeParse({ ['k'.repeat(MAX_KEY_LENGTH + 1)]: 'v' }).success).toBe(false);
    expect(map.safeParse({ a: '1', b: '2', c: '3', d: '4', e: '5' }).success).toBe(false);
  });

  it('counts characters as CEL does: a surrogate pair is one', () => {
    expect(characters('a😀b')).toBe(3);
    expect(characters('\udc00\ud800')).toBe(2);
    expect(map.safeParse({ a: '😀'.repeat(10) }).success).toBe(true);
  });
});

describe('fitStringMap', () => {
  it('keeps the shortest entries that fit, in their order, and drops keys that are too long', () => {
    const fitted = fitStringMap(
      { long: 'x'.repeat(30), b: '12', ['k'.repeat(MAX_KEY_LENGTH + 1)]: '', a: '1', c: '123' },
      12,
    );
    expect(fitted).toEqual({ map: { b: '12', a: '1', c: '123' }, dropped: 2 });
  });

  it('cuts the same way whatever the order of the entries, by key among entries of equal length', () => {
    const one = fitStringMap({ a: '1', b: '2', c: '3' }, 4);
    const other = fitStringMap({ c: '3', b: '2', a: '1' }, 4);
    expect(Object.keys(one.map)).toEqual(['a', 'b']);
    expect(Object.keys(other.map)).toEqual(['b', 'a']);
  });

  it('leaves out values that are not strings', () => {
    expect(fitStringMap({ a: '1', b: 2 }, 100)).toEqual({ map: { a: '1' }, dropped: 1 });
  });
});
