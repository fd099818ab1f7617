/**
 * What parsing a request body would build, counted from its bytes without building it. JSON.parse turns each `{}` (two bytes) into about 60 bytes of heap (an object and its slot), so a
 * body of empty alerts needs twenty times its size: 16 MiB of them took the receiver past its heap.
 * Counting first lets the receiver refuse such a body while it is still a buffer.
 *
 * One pass over the bytes, allocating nothing but the top level's keys: it counts the objects and arrays
 * anywhere in the body, how deep they nest, the items of the top-level `alerts` array (an Alertmanager or
 * Grafana payload) and those of a top-level array (a batch of alarms). Keys are decoded as JSON.parse
 * would, so an escaped spelling of `alerts` is counted as well.
 */

export interface PayloadShape {
  /** Items of the top-level `alerts` array (of every one, should the key repeat). */
  alerts: number;
  /** Items of the body when it is an array. */
  items: number;
  /** Objects and arrays anywhere in the body, the envelope included. */
  containers: number;
  /** Deepest nesting of objects and arrays: 1 for the envelope alone. */
  depth: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/**
 * Counts `bytes`, stopping early once `stopAt` says the counts are over a bound. Malformed JSON is
 * counted as far as it goes; JSON.parse then refuses it.
 */
export function measurePayload(
  bytes: Uint8Array,
  stopAt: (shape: PayloadShape) => boolean = () => false,
): PayloadShape {
  const shape: PayloadShape = { alerts: 0, items: 0, containers: 0, depth: 0 };
  let depth = 0;
  // Depth 1 is the envelope: its strings alternate between keys and values.
  let expectKey = false;
  let lastKey = '';
  // Depth 2 inside `alerts`: the next value that starts is another alert.
  let inAlerts = false;
  let expectAlert = false;
  // Depth 1 of a body that is an array: the next value that starts is another item.
  let inBatch = false;
  let expectItem = false;
  for (let at = 0; at < bytes.length; at++) {
    const byte = bytes[at] as number;
    if (isWhitespace(byte)) continue;
    if (inAlerts && depth === 2 && expectAlert && byte !== CLOSE_ARRAY) {
      shape.alerts++;
      expectAlert = false;
      if (stopAt(shape)) return shape;
    }
    if (inBatch && depth === 1 && expectItem && byte !== CLOSE_ARRAY) {
      shape.items++;
      expectItem = false;
      if (stopAt(shape)) return shape;
    }
    if (byte === QUOTE) {
      const end = stringEnd(bytes, at);
      if (depth === 1 && expectKey) lastKey = decodeKey(bytes, at, end);
      at = end;
    } else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
      shape.containers++;
      depth++;
      shape.depth = Math.max(shape.depth, depth);
      if (stopAt(shape)) return shape;
      if (depth === 1) {
        expectKey = byte === OPEN_OBJECT;
        inBatch = byte === OPEN_ARRAY;
        expectItem = inBatch;
      }
      if (depth === 2 && byte === OPEN_ARRAY && lastKey === 'alerts' && !expectKey) {
        inAlerts = true;
        expectAlert = true;
      }
    } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
      depth--;
      if (depth === 1) inAlerts = false;
    } else if (byte === COMMA) {
      if (depth === 1) {
        expectKey = !inBatch;
        expectItem = inBatch;
      }
      if (depth === 2 && inAlerts) expectAlert = true;
    } else if (byte === COLON && depth === 1) {
      expectKey = false;
    }
  }
  return shape;
}

/** Index of the quote that ends the string starting at `start`, or the end of the bytes. */
function stringEnd(bytes: Uint8Array, start: number): number {
  for (let at = start + 1; at < bytes.length; at++) {
    const byte = bytes[at];
    if (byte === BACKSLASH) at++;
    else if (byte === QUOTE) return at;
  }
  return bytes.length;
}

/** The envelope's key, decoded; a long one is no key the receiver reads, and is left undecoded. */
function decodeKey(bytes: Uint8Array, start: number, end: number): string {
  if (end - start > 64) return '';
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start + 1).toString('utf8');
  try {
    return JSON.parse(text) as string;
  } catch {
    return '';
  }
}
