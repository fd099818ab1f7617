import { describe, expect, it } from 'vitest';
import { escapeMarkdown, inlineMarkdown, isMentionable, oneLine } from './untrusted.ts';

describe('oneLine', () => {
  it('turns every kind of line break and control character into a space', () => {
    expect(oneLine('a\nb\r\nc\u2028d\u0085e\tf')).toBe('a b c d e f');
  });
});

describe('escapeMarkdown', () => {
  it('leaves no link, image, autolink or HTML', () => {
    expect(escapeMarkdown('[click](http://x) ![i](http://y) <http://z> <b>')).toBe(
      '\\[click\\](http://x) !\\[i\\](http://y) \\<http://z\\> \\<b\\>',
    );
  });

  it('leaves no heading, by # or by an underline', () => {
    expect(escapeMarkdown('ok\n#### 【RESOLVED】 x\n  # y\nz\n===\nw\n---')).toBe(
      'ok\n\\#### 【RESOLVED】 x\n  \\# y\nz\n\\===\nw\n\\---',
    );
  });

  it('keeps ordinary text as it is', () => {
    expect(escapeMarkdown('CPU at 95% (5m) on node-3: **high**')).toBe('CPU at 95% (5m) on node-3: **high**');
  });

  it('inlineMarkdown puts the escaped text on one line', () => {
    expect(inlineMarkdown('x\n# y')).toBe('x # y');
  });
});

describe('invisible characters', () => {
  it('are removed from text on one line and from markdown: bidi overrides, isolates, marks, zero-width joiners', () => {
    // U+202E reverses what follows: "Disk full" would read as "lluf ksiD" in the group.
    const forged = 'Disk \u202efull\u202c on \u2066node-1\u2069\u200b\u200d\u200e\u061c';
    expect(oneLine(forged)).toBe('Disk full on node-1');
    expect(escapeMarkdown(forged)).toBe('Disk full on node-1');
    expect(inlineMarkdown(`a\u2067b\u2060c`)).toBe('abc');
  });
});

describe('isMentionable', () => {
  it('accepts userIds and mobiles of their usual shapes only', () => {
    expect(isMentionable('userId', 'manager4220')).toBe(true);
    expect(isMentionable('userId', 'a b')).toBe(false);
    expect(isMentionable('userId', 'x\n【RESOLVED】')).toBe(false);
    expect(isMentionable('mobile', '+86-13800000000')).toBe(true);
    expect(isMentionable('mobile', '1380000000O')).toBe(false);
    expect(isMentionable('mobile', '123')).toBe(false);
  });
});
