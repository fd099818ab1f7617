import { z } from 'zod';

/** Longest key: a Kubernetes qualified name (a 253-character DNS prefix, '/', a 63-character name). */
export const MAX_KEY_LENGTH = 317;

/** Characters as CEL's size() counts them: code points, so a surrogate pair is one. */
export function characters(text: string): number {
  let count = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xdc00 && unit <= 0xdfff && i > 0) {
      const previous = text.charCodeAt(i - 1);
      if (previous >= 0xd800 && previous <= 0xdbff) count--;
    }
  }
  return count;
}

const entryLength = ([key, value]: [string, string]) => characters(key) + characters(value);

/**
 * A string-to-string map (labels, annotations) with bounds, so CEL rules over it stay within cost limits
 * and one object cannot make the API server and every watcher hold much: at most `maxEntries` entries,
 * keys of at most MAX_KEY_LENGTH characters, values of at most `maxValueLength`, and, given
 * `maxTotalLength`, keys and values together of at most that many characters.
 */
export function stringMap(maxEntries: number, maxValueLength: number, maxTotalLength?: number) {
  const rules = [
    {
      rule: `self.all(k, size(k) <= ${MAX_KEY_LENGTH})`,
      message: `keys must be at most ${MAX_KEY_LENGTH} characters`,
      holds: (map: Record<string, string>) => Object.keys(map).every((k) => characters(k) <= MAX_KEY_LENGTH),
    },
    ...(maxTotalLength === undefined
      ? []
      : [
          {
            // sum() is the Kubernetes CEL list library's; over 64 entries its cost is far below the limit.
            rule: `self.map(k, size(k) + size(self[k])).sum() <= ${maxTotalLength}`,
            message: `keys and values must total at most ${maxTotalLength} characters`,
            holds: (map: Record<string, string>) =>
              Object.entries(map).reduce((sum, entry) => sum + entryLength(entry), 0) <= maxTotalLength,
          },
        ]),
  ];
  let schema = z
    .record(z.string(), z.string().max(maxValueLength))
    .refine((map) => Object.keys(map).length <= maxEntries, `must have at most ${maxEntries} entries`);
  for (const { holds, message } of rules) schema = schema.refine(holds, message);
  return schema.meta({
    maxProperties: maxEntries,
    'x-kubernetes-validations': rules.map(({ rule, message }) => ({ rule, message })),
  });
}

/**
 * The largest part of `map` within the bounds of stringMap(…, maxTotalLength), the same for the same
 * map: entries whose key is too long go, then the shortest entries are kept while they fit, so the
 * identifying labels and short annotations (alertname, runbook_url) stay and one long value goes.
 * Kept entries stay in their order. `dropped` counts what was left out. It takes objects as read from
 * the API server, so a value that is not a string (which the CRD's schema does not admit) is left out.
 */
export function fitStringMap(
  map: Readonly<Record<string, unknown>>,
  maxTotalLength: number,
): { map: Record<string, string>; dropped: number } {
  const entries = Object.entries(map).filter(
    (entry): entry is [string, string] => typeof entry[1] === 'string',
  );
  const sized = entries
    .filter(([key]) => characters(key) <= MAX_KEY_LENGTH)
    .map((entry) => ({ entry, length: entryLength(entry) }))
    .sort((a, b) => a.length - b.length || (a.entry[0] < b.entry[0] ? -1 : a.entry[0] > b.entry[0] ? 1 : 0));
  const kept = new Set<string>();
  let total = 0;
  for (const { entry, length } of sized) {
    if (total + length > maxTotalLength) break;
    total += length;
    kept.add(entry[0]);
  }
  return {
    map: Object.fromEntries(entries.filter(([key]) => kept.has(key))),
    dropped: Object.keys(map).length - kept.size,
  };
}
