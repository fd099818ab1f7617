import { describe, expect, it } from 'vitest';
import { byteLength, fitText, maxBodyBytes, truncatedMarker } from './trim.ts';

const asBody = (text: string) => JSON.stringify({ msgtype: 'text', text: { content: text } });

describe('fitText', () => {
  it('leaves a body within the limit untouched', () => {
    const fitted = fitText('short alarm', asBody);
    expect(fitted).toEqual({ serialized: asBody('short alarm'), text: 'short alarm', trimmed: false });
  });

  it('trims an oversize body to the limit and marks it as truncated', () => {
    const fitted = fitText('x'.repeat(30_000), asBody);
    expect(fitted?.trimmed).toBe(true);
    expect(byteLength(fitted?.serialized ?? '')).toBeLessThanOrEqual(maxBodyBytes);
    expect(JSON.parse(fitted?.serialized ?? '').text.content).toMatch(/x+\n\n… \(truncated\)$/);
  });

  it('uses the space well: one more character would not fit', () => {
    const fitted = fitText('y'.repeat(25_000), asBody);
    const content: string = JSON.parse(fitted?.serialized ?? '').text.content;
    const kept = content.length - truncatedMarker.length;
    expect(byteLength(asBody(`${'y'.repeat(kept + 1)}${truncatedMarker}`))).toBeGreaterThan(maxBodyBytes);
  });

  it('never cuts a multi-byte character or an emoji sequence in half', () => {
    const family = '👨‍👩‍👧';
    const text = `告警${family}`.repeat(2_000);
    const content: string = JSON.parse(fitText(text, asBody)?.serialized ?? '').text.content;
    const kept = content.slice(0, -truncatedMarker.length);
    expect(text.startsWith(kept)).toBe(true);
    expect(kept.endsWith(family) || kept.endsWith('警')).toBe(true);
  });

  it('counts JSON escapes, not just characters', () => {
    const fitted = fitText('"\n'.repeat(10_000), asBody);
    expect(byteLength(fitted?.serialized ?? '')).toBeLessThanOrEqual(maxBodyBytes);
  });

  it('gives up when the text around the message alone is too large', () => {
    expect(fitText('a', () => 'z'.repeat(maxBodyBytes + 1))).toBeUndefined();
  });
});
