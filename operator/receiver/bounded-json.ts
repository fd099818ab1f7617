import { ReceiverError, ReceiverErrorCode } from './errors.ts';
import { checkBatchSize } from './intake.ts';
import { measurePayload, type PayloadShape } from './payload-shape.ts';

/**
 * Request bodies refused while they are still bytes when parsing them would build more than their alarms
 * need: more alerts than --max-alerts-per-payload (Alertmanager, Grafana) or alarms than --max-batch
 * (the native endpoint), or more objects and arrays (or deeper ones) than any alert or alarm holds.
 *
 * An alert payload is parsed by JSON.parse itself, which keeps a `__proto__` key as an ordinary property:
 * the alert holding it is then set aside on its own (intake.ts), where a parser refusing the whole body
 * would make the sender drop every other alert of the group with it. The native endpoint's body is only
 * measured here, and parsed by a parser that refuses such a key outright.
 */

/** An alert has itself, labels, annotations and Grafana's values; the rest is room for fields to come. */
const CONTAINERS_PER_ITEM = 8;
/** The envelope, its alerts array, groupLabels, commonLabels, commonAnnotations, and room to spare. */
const ENVELOPE_CONTAINERS = 64;
/** Envelope → alerts → alert → labels → value: anything much deeper is no alert payload. */
const MAX_DEPTH = 16;

const containersFor = (items: number) => ENVELOPE_CONTAINERS + CONTAINERS_PER_ITEM * items;

/** Throws when a body for /alarms holds more alarms, objects or arrays than a batch may. */
export function measureAlarmBatch(bytes: Buffer, limits: { maxBatch: number }): void {
  const shape = measurePayload(
    bytes,
    (counted) =>
      counted.items > limits.maxBatch ||
      counted.containers > containersFor(limits.maxBatch) ||
      counted.depth > MAX_DEPTH,
  );
  checkBatchSize(shape.items, '', limits);
  if (shape.depth > MAX_DEPTH || shape.containers > containersFor(shape.items)) {
    throw shapeError(shape, shape.items, containersFor(shape.items), 'alarm batch');
  }
}

export function parseAlertPayload(
  bytes: Buffer,
  { maxAlertsPerPayload, retryAfterSeconds }: { maxAlertsPerPayload: number; retryAfterSeconds: number },
): unknown {
  const shape = measurePayload(
    bytes,
    (counted) =>
      counted.alerts > maxAlertsPerPayload ||
      counted.containers > containersFor(maxAlertsPerPayload) ||
      counted.depth > MAX_DEPTH,
  );
  if (shape.alerts > maxAlertsPerPayload) {
    const message = `more than ${maxAlertsPerPayload} alerts (--max-alerts-per-payload); nothing was stored`;
    // As for a payload over the byte bound: a 4xx would make the sender drop the group for good.
    throw new ReceiverError(ReceiverErrorCode.TooManyAlerts, 503, `the payload holds ${message}`, {
      issues: [{ path: 'alerts', message: `must hold at most ${maxAlertsPerPayload} alerts` }],
      retryAfter: retryAfterSeconds,
    });
  }
  if (shape.depth > MAX_DEPTH || shape.containers > containersFor(shape.alerts)) {
    throw shapeError(shape, shape.alerts, containersFor(shape.alerts), 'Alertmanager or Grafana payload');
  }
  if (bytes.length === 0) {
    throw new ReceiverError(ReceiverErrorCode.MalformedJson, 400, 'the body is empty; expected JSON');
  }
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ReceiverError(
      ReceiverErrorCode.MalformedJson,
      400,
      `the body is not valid JSON: ${(err as Error).message}`,
    );
  }
}

function shapeError(shape: PayloadShape, items: number, containers: number, what: string): ReceiverError {
  const message =
    shape.depth > MAX_DEPTH
      ? `nests objects and arrays deeper than ${MAX_DEPTH} levels`
      : `holds more objects and arrays than ${items} items can (at most ${containers})`;
  return new ReceiverError(ReceiverErrorCode.PayloadShape, 400, `the body ${message}: it is no ${what}`, {
    issues: [{ path: '', message }],
  });
}
