import { ReceiverError, ReceiverErrorCode } from './errors.ts';
import { measurePayload, type PayloadShape } from './payload-shape.ts';

/**
 * An Alertmanager or Grafana body, from bytes to a parsed value, refused while it is still bytes when
 * parsing it would build more than its alerts need: more alerts than --max-alerts-per-payload, or more
 * objects and arrays (or deeper ones) than any alert of either sender holds.
 *
 * The parse is JSON.parse's own, which keeps a `__proto__` key as an ordinary property: the alert holding
 * it is then set aside on its own (intake.ts), where a parser refusing the whole body would make the
 * sender drop every other alert of the group with it.
 */

/** An alert has itself, labels, annotations and Grafana's values; the rest is room for fields to come. */
const CONTAINERS_PER_ALERT = 8;
/** The envelope, its alerts array, groupLabels, commonLabels, commonAnnotations, and room to spare. */
const ENVELOPE_CONTAINERS = 64;
/** Envelope → alerts → alert → labels → value: anything much deeper is no alert payload. */
const MAX_DEPTH = 16;

export function parseAlertBody(
  bytes: Buffer,
  { maxAlertsPerPayload, retryAfterSeconds }: { maxAlertsPerPayload: number; retryAfterSeconds: number },
): unknown {
  const containersFor = (alerts: number) => ENVELOPE_CONTAINERS + CONTAINERS_PER_ALERT * alerts;
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
    throw shapeError(shape, containersFor(shape.alerts));
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

function shapeError(shape: PayloadShape, containers: number): ReceiverError {
  const message =
    shape.depth > MAX_DEPTH
      ? `nests objects and arrays deeper than ${MAX_DEPTH} levels`
      : `holds more objects and arrays than ${shape.alerts} alerts can (at most ${containers})`;
  return new ReceiverError(
    ReceiverErrorCode.PayloadShape,
    400,
    `the payload ${message}: it is no Alertmanager or Grafana payload`,
    { issues: [{ path: '', message }] },
  );
}
