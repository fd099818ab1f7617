import { randomBytes } from 'node:crypto';
import type { Event } from 'kubernetes-types/events/v1.js';
import type { Logger } from 'pino';
import { ConcurrencyLimit } from './concurrency.ts';
import type { KubeHttp } from './kube-http.ts';
import { collectionPath } from './kube-path.ts';
import { redactUrl } from './logger.ts';
import { microTime, truncateUtf8 } from './text.ts';

/**
 * Kubernetes Events (events.k8s.io/v1) for state transitions: a condition that flips, a test message
 * sent. Never one per reconcile loop. The same (object, type, reason, note) within the de-duplication
 * window is recorded once. Callers do not wait for an Event, so the recorder bounds them: at most
 * EVENT_CONCURRENCY creates in flight (a thousand services turning Ready at once would otherwise be a
 * thousand calls at once) and at most MAX_QUEUED_EVENTS waiting, beyond which an Event is dropped with a
 * warning, as client-go's recorder drops them, rather than held in memory while the API server is down.
 *
 * Callers must not put secret values in `note` or `reason`: events are readable by anyone who can
 * list events in the namespace. As a last line of defence credential query values in URLs are
 * redacted, which does not make it safe to pass a secret.
 */

export interface EventTarget {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

export interface EventInput {
  type: 'Normal' | 'Warning';
  /** CamelCase, e.g. `CredentialsInvalid`. */
  reason: string;
  /** What the controller did or failed to do, e.g. `Validate`, `SendTest`. */
  action: string;
  /** Human-readable, already free of secrets; truncated to 1 KiB as the API requires. */
  note: string;
}

export interface EventRecorderOptions {
  kube: KubeHttp;
  /** e.g. `dingtalk.alarming.io/dingtalkservice-controller`. */
  reportingController: string;
  /** This replica, e.g. the pod name. */
  reportingInstance: string;
  logger: Logger;
  dedupWindowMs?: number;
}

const MAX_NOTE_BYTES = 1024;
export const EVENT_CONCURRENCY = 8;
export const MAX_QUEUED_EVENTS = 1000;
const EVENTS = { group: 'events.k8s.io', version: 'v1', plural: 'events' };

/** One events.k8s.io/v1 Event, as created: its name, what it says and what it is about. */
export interface EventObject extends EventInput {
  name: string;
  namespace: string;
  reportingController: string;
  reportingInstance: string;
  regarding: {
    apiVersion?: string;
    kind?: string;
    name?: string;
    namespace: string;
    uid?: string;
    resourceVersion?: string;
  };
}

/** Creates the Event now; the API server's refusal (e.g. 409 for a name already taken) is thrown. */
export async function createEvent(kube: KubeHttp, event: EventObject): Promise<void> {
  const { name, namespace, ...fields } = event;
  const body: Event = {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: { name, namespace },
    eventTime: microTime(Date.now()),
    ...fields,
  };
  await kube.post(collectionPath({ ...EVENTS, namespace }), body);
}

export class EventRecorder {
  readonly #options: EventRecorderOptions;
  readonly #recent = new Map<string, number>();
  readonly #creates = new ConcurrencyLimit(EVENT_CONCURRENCY);

  constructor(options: EventRecorderOptions) {
    this.#options = options;
  }

  /** Records the event; failures are logged, never thrown (an event is not worth failing a reconcile). */
  async record(regarding: EventTarget, event: EventInput): Promise<boolean> {
    const { name, namespace, uid } = regarding.metadata ?? {};
    if (!name || !namespace) return false;
    const note = truncateUtf8(redactUrl(event.note), MAX_NOTE_BYTES);
    if (this.#isDuplicate([uid ?? `${namespace}/${name}`, event.type, event.reason, note].join('\u0000'))) {
      return false;
    }
    if (this.#creates.queued >= MAX_QUEUED_EVENTS) {
      this.#options.logger.warn(
        { reason: event.reason, namespace, name, queued: this.#creates.queued },
        'too many events waiting for the API server; dropped this one',
      );
      return false;
    }
    try {
      await this.#creates.run(() =>
        createEvent(this.#options.kube, {
          name: `${name}.${randomBytes(8).toString('hex')}`,
          namespace,
          type: event.type,
          reason: event.reason,
          action: event.action,
          note,
          reportingController: this.#options.reportingController,
          reportingInstance: this.#options.reportingInstance,
          regarding: {
            apiVersion: regarding.apiVersion,
            kind: regarding.kind,
            name,
            namespace,
            uid,
            resourceVersion: regarding.metadata?.resourceVersion,
          },
        }),
      );
      return true;
    } catch (err) {
      this.#options.logger.warn({ err, reason: event.reason, namespace, name }, 'could not record event');
      return false;
    }
  }

  #isDuplicate(fingerprint: string): boolean {
    const now = Date.now();
    const window = this.#options.dedupWindowMs ?? 60_000;
    // Entries are added in time order and never updated, so the expired ones are the first.
    for (const [key, at] of this.#recent) {
      if (now - at < window) break;
      this.#recent.delete(key);
    }
    if (this.#recent.has(fingerprint)) return true;
    this.#recent.set(fingerprint, now);
    return false;
  }
}
