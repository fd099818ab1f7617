/**
 * DingTalk rejects robot bodies over 20000 bytes (460101). An alarm must still arrive, so the longest text
 * is shortened instead, at a grapheme boundary (never inside a multi-byte character or an emoji sequence),
 * with a visible marker so a reader knows something is missing.
 */

export const maxBodyBytes = 20_000;
export const truncatedMarker = '\n\n… (truncated)';

export interface Fitted {
  serialized: string;
  /** The text that went into `serialized`: the input, or its prefix plus the marker. */
  text: string;
  trimmed: boolean;
}

/**
 * Finds the longest prefix of `text` whose serialization fits in `limit` bytes. `serialize` receives the
 * candidate text (prefix plus marker) and returns the exact bytes that will be sent, so JSON escaping and
 * everything around the text is accounted for. Returns undefined when not even the marker alone fits.
 */
export function fitText(
  text: string,
  serialize: (text: string) => string,
  limit: number = maxBodyBytes,
): Fitted | undefined {
  const whole = serialize(text);
  if (byteLength(whole) <= limit) return { serialized: whole, text, trimmed: false };

  // Every character is at least one byte, so no kept prefix is longer than `limit` characters.
  const boundaries = graphemeBoundaries(text.slice(0, limit));
  const candidate = (count: number) => text.slice(0, boundaries[count]) + truncatedMarker;
  const at = (count: number) => serialize(candidate(count));
  if (byteLength(at(0)) > limit) return undefined;

  let fits = 0;
  let tooLong = boundaries.length - 1;
  while (tooLong - fits > 1) {
    const middle = Math.floor((fits + tooLong) / 2);
    if (byteLength(at(middle)) <= limit) fits = middle;
    else tooLong = middle;
  }
  return { serialized: at(fits), text: candidate(fits), trimmed: true };
}

export function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** String offsets where a prefix may end: 0, after each grapheme, and the full length. */
function graphemeBoundaries(text: string): number[] {
  const offsets = [0];
  for (const { index, segment } of segmenter.segment(text)) offsets.push(index + segment.length);
  return offsets;
}
