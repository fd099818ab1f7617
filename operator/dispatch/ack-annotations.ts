import type { Logger } from 'pino';
import {
  ACK_ANNOTATION,
  ACK_BY_ANNOTATION,
  type AckAction,
  type AckAnnotationOutcome,
  type AlarmEventStatus,
  API_VERSION,
} from '../api/index.ts';
import { type Component, type CustomObject, cachesSynced, type OperatorContext } from '../manager/context.ts';
import type { InformerEvent } from '../runtime/informer.ts';
import { memberNamesOf, rulesOfEvent } from './ack-context.ts';
import {
  type AckDecision,
  acknowledgementEvent,
  decideAcknowledgement,
  offeredBy,
} from './acknowledgement.ts';
import { writeStatusFields } from './status-fields.ts';

/**
 * The kubectl side of acknowledgement: `kubectl annotate ae X dingtalk.alarming.io/ack=acknowledge`
 * (or `snooze=30m`, `resolve`; optionally `dingtalk.alarming.io/ack-by=<userId>`) is recorded in
 * status.acknowledgement (via Annotation) with an Event, or refused with the reason in
 * status.ackAnnotation and a Warning Event. Who may do it is who may patch the AlarmEvent (RBAC of its
 * namespace); the annotation acts on its own event only. Level-triggered: a value is handled once,
 * as status.ackAnnotation records, across restarts and takeovers; removing the annotation clears that
 * record, so the same value can be used again.
 */
export class AckAnnotations implements Component {
  readonly name = 'ack-annotations';
  readonly #ctx: OperatorContext;
  readonly #log: Logger;
  /** Events whose annotation is being handled, by uid; the write's own update comes next. */
  readonly #busy = new Set<string>();
  #unsubscribe: (() => void)[] = [];
  #stopped = false;
  readonly #running = new Set<Promise<void>>();

  constructor(ctx: OperatorContext) {
    this.#ctx = ctx;
    this.#log = ctx.logger.child({ component: 'ack-annotations' });
  }

  async start(signal: AbortSignal): Promise<void> {
    const { caches } = this.#ctx;
    await cachesSynced([caches.alarms, caches.rules, caches.services, caches.configMaps], signal);
    if (signal.aborted || this.#stopped) return;
    for (const informer of caches.alarms.informers)
      this.#unsubscribe.push(informer.onEvent((event) => this.#onEvent(event)));
    for (const raw of caches.alarms.list()) this.#consider(raw);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    await Promise.allSettled([...this.#running]);
  }

  #onEvent(event: InformerEvent<CustomObject>): void {
    if (event.type !== 'delete') this.#consider(event.object);
  }

  #consider(raw: Readonly<CustomObject>): void {
    const uid = raw.metadata?.uid ?? '';
    if (this.#stopped || this.#busy.has(uid) || !annotationPending(raw)) return;
    this.#busy.add(uid);
    const run = this.#handle(raw)
      .catch((err) => this.#log.warn({ err, alarmEvent: keyOf(raw) }, 'could not handle the ack annotation'))
      .finally(() => {
        this.#busy.delete(uid);
        this.#running.delete(run);
      });
    this.#running.add(run);
  }

  async #handle(raw: Readonly<CustomObject>): Promise<void> {
    let decision: AckDecision | undefined;
    let value = '';
    const ref = { namespace: raw.metadata?.namespace ?? '', name: raw.metadata?.name ?? '' };
    const written = await writeStatusFields(
      this.#ctx.kube,
      ref,
      (event) => {
        decision = undefined;
        const status = (event.status ?? {}) as AlarmEventStatus;
        const request = annotationRequest(event.metadata?.annotations);
        if (!request) return status.ackAnnotation ? { ackAnnotation: undefined } : undefined;
        if (status.ackAnnotation?.value === request.value) return undefined;
        value = request.value;
        decision = this.#decide(event, request);
        const outcome: AckAnnotationOutcome = {
          value: request.value,
          result: decision.outcome,
          ...(decision.outcome === 'Refused' ? { reason: decision.reason } : {}),
          message: decision.message.slice(0, 1024),
        };
        return decision.outcome === 'Recorded'
          ? { acknowledgement: decision.acknowledgement, ackAnnotation: outcome }
          : { ackAnnotation: outcome };
      },
      raw,
    );
    if (!written || !decision) return;
    const { metadata } = written;
    const regarding = {
      apiVersion: API_VERSION,
      kind: 'AlarmEvent',
      metadata: { ...ref, uid: metadata?.uid, resourceVersion: metadata?.resourceVersion },
    };
    const made: AckDecision = decision;
    this.#log.info({ alarmEvent: keyOf(written), outcome: made.outcome }, made.message);
    const event = acknowledgementEvent(made, `${ACK_ANNOTATION}: ${value}`);
    if (event) void this.#ctx.events.record(regarding, event);
  }

  #decide(event: Readonly<CustomObject>, request: AnnotationRequest): AckDecision {
    if ('invalid' in request)
      return { outcome: 'Refused', reason: 'InvalidAnnotation', message: request.invalid };
    const namespace = event.metadata?.namespace ?? '';
    const spec = event.spec as { state?: 'firing' | 'resolved' };
    const status = (event.status ?? {}) as AlarmEventStatus;
    const rules = rulesOfEvent(this.#ctx.caches, namespace, status);
    const names = memberNamesOf(this.#ctx.caches, namespace, rules);
    return decideAcknowledgement({
      event: {
        namespace,
        name: event.metadata?.name ?? '',
        uid: event.metadata?.uid ?? '',
        state: spec.state ?? 'firing',
        acknowledgement: status.acknowledgement,
      },
      action: request.action,
      snooze: request.snooze,
      userId: request.by,
      via: 'Annotation',
      audience: { kind: 'Kubernetes' },
      offered: offeredBy(rules.map((r) => r.interactive)),
      nameOf: (userId) => names.get(userId),
      now: Date.now(),
    });
  }
}

type AnnotationRequest = { value: string } & (
  | { action: AckAction; snooze?: string; by?: string }
  | { invalid: string }
);

const ACTIONS: Record<string, AckAction> = {
  acknowledge: 'Acknowledge',
  snooze: 'Snooze',
  resolve: 'Resolve',
};

// A DingTalk userId: letters, digits and a few separators.
const USER_ID = /^[A-Za-z0-9_.@-]{1,64}$/;

/** What the annotations ask for; undefined when there is no ack annotation. */
export function annotationRequest(
  annotations: Record<string, string> | undefined,
): AnnotationRequest | undefined {
  const raw = annotations?.[ACK_ANNOTATION];
  if (raw === undefined) return undefined;
  const by = annotations?.[ACK_BY_ANNOTATION]?.trim();
  const value = `${raw}${by ? ` by ${by}` : ''}`.slice(0, 256);
  if (by !== undefined && !USER_ID.test(by))
    return { value, invalid: `${ACK_BY_ANNOTATION} must be a DingTalk userId, not "${by.slice(0, 64)}"` };
  const [verb = '', snooze, ...rest] = raw.trim().split('=');
  const action = ACTIONS[verb.toLowerCase()];
  if (!action || rest.length > 0 || (action === 'Snooze') !== (snooze !== undefined))
    return {
      value,
      invalid: `${ACK_ANNOTATION} must be acknowledge, snooze=<duration> (e.g. snooze=30m) or resolve, not "${raw.slice(0, 64)}"`,
    };
  return { value, action, ...(snooze !== undefined ? { snooze } : {}), ...(by ? { by } : {}) };
}

/** True when the annotations ask for something the status does not record as handled. */
function annotationPending(raw: Readonly<CustomObject>): boolean {
  const handled = (raw.status as AlarmEventStatus | undefined)?.ackAnnotation;
  const request = annotationRequest(raw.metadata?.annotations);
  return request ? handled?.value !== request.value : handled !== undefined;
}

function keyOf(raw: Readonly<CustomObject>): string {
  return `${raw.metadata?.namespace}/${raw.metadata?.name}`;
}
