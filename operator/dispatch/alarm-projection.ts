import { ACK_ANNOTATION, ACK_BY_ANNOTATION, ALARM_EVENT_MAP_LENGTHS } from '../api/index.ts';
import { fitStringMap } from '../api/string-map.ts';
import type { CustomObject } from '../manager/context.ts';
import { fingerprintOf } from './alarm.ts';
import { MAX_TEXT_BYTES } from './render.ts';

/**
 * What the operator keeps of an AlarmEvent: every replica caches every AlarmEvent of the namespaces it
 * watches, so their size is what one tenant can make it hold. Each event is cached as dispatch, templates
 * and the ledger read it, and no larger:
 *
 * - metadata: name, namespace, uid, resourceVersion, generation and creationTimestamp, and the
 *   acknowledgement annotations (ack, ack-by) up to ACK_ANNOTATION_MAX characters each. Labels, other
 *   annotations (up to 256 KiB that the CRD cannot bound), owner references and finalizers are dropped:
 *   nothing here reads them.
 * - spec.labels and spec.annotations within the CRD's bounds (ALARM_EVENT_MAP_LENGTHS), which events
 *   created before those bounds may exceed: fitStringMap keeps the shortest entries that fit. An event
 *   whose labels were cut keeps the fingerprint of all its labels, so its identity does not change.
 * - spec.message up to MAX_TEXT_BYTES bytes (UTF-8), ending in '…' when cut: longer text never fits in a
 *   message, and a template that shows a part of it from the start sees the same part.
 * - spec's other fields and the status (the ledger) as they are.
 *
 * The cut is the same on every replica and after every restart, so replicas and leaders agree.
 */

/**
 * Objects per list page: a page is parsed whole before it is projected, so a relist holds one page of
 * events as large as they were written (up to about 0.6 MB each) at a time, not hundreds: 500 such
 * events were relisted at 253 MiB of the chart's 384Mi (alarm-event-memory.test.ts).
 */
export const ALARM_EVENT_PAGE_SIZE = 25;

const ELLIPSIS = '…';

/** Longer acknowledgement annotations are cut; the handler refuses them as invalid anyway. */
export const ACK_ANNOTATION_MAX = 256;

export function projectAlarmEvent(obj: CustomObject, cached?: Readonly<CustomObject>): CustomObject {
  const { name, namespace, uid, resourceVersion, generation, creationTimestamp } = obj.metadata ?? {};
  const annotations = ackAnnotations(obj.metadata?.annotations);
  // The informer keeps the cached spec while the generation stays (runtime/informer.ts): that spec is
  // projected already, so a status write (three an alarm) does not fit the labels and annotations again.
  const projected = cached !== undefined && obj.spec === cached.spec;
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: {
      name,
      namespace,
      uid,
      resourceVersion,
      generation,
      creationTimestamp,
      ...(annotations ? { annotations } : {}),
    },
    spec: projected ? obj.spec : projectSpec(obj.spec, name ?? ''),
    status: obj.status,
  };
}

function ackAnnotations(all: Record<string, string> | undefined): Record<string, string> | undefined {
  const kept: Record<string, string> = {};
  for (const key of [ACK_ANNOTATION, ACK_BY_ANNOTATION]) {
    const value = all?.[key];
    if (typeof value === 'string') kept[key] = value.slice(0, ACK_ANNOTATION_MAX);
  }
  return Object.keys(kept).length > 0 ? kept : undefined;
}

function projectSpec(spec: unknown, name: string): unknown {
  // Anything else is refused when dispatch parses it, as it would be whole.
  if (!isRecord(spec)) return spec;
  const projected: Record<string, unknown> = { ...spec };
  if (typeof spec.message === 'string') projected.message = capBytes(spec.message, MAX_TEXT_BYTES);
  if (isRecord(spec.annotations)) {
    projected.annotations = fitStringMap(spec.annotations, ALARM_EVENT_MAP_LENGTHS.annotations).map;
  }
  if (isRecord(spec.labels)) {
    const fitted = fitStringMap(spec.labels, ALARM_EVENT_MAP_LENGTHS.labels);
    projected.labels = fitted.map;
    if (fitted.dropped > 0 && spec.fingerprint === undefined) {
      projected.fingerprint = fingerprintOf({ labels: spec.labels as Record<string, string> }, name);
    }
  }
  return projected;
}

/**
 * `text` if it has at most `max` bytes in UTF-8, else its longest prefix that fits with the ellipsis,
 * cut between characters. The result is a new string: a slice would keep the whole text alive.
 */
export function capBytes(text: string, max: number): string {
  // No character takes more than three bytes per UTF-16 unit.
  if (text.length * 3 <= max) return text;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= max) return text;
  let end = max - Buffer.byteLength(ELLIPSIS);
  // Back to the start of a character: continuation bytes are 10xxxxxx.
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.toString('utf8', 0, end) + ELLIPSIS;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
