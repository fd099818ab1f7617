import { randomUUID } from 'node:crypto';
import type { ServiceRef } from '../api/index.ts';
import type { HeldTargets } from '../delivery/held.ts';
import type { OperatorContext } from '../manager/context.ts';
import { redactUrl } from '../runtime/logger.ts';
import { cacheReader, planTargets } from '../targets/index.ts';
import { digest, type Notification, type TargetRef } from './notification.ts';
import type { SendFailure } from './outcome.ts';

/** The alarms of one target (a tenant's group or member set) that wait for a configuration fix. */
export interface HeldEntry {
  namespace: string;
  ref: TargetRef;
  since: number;
  /** Of the target's configuration when DingTalk refused it; a different one releases the alarms. */
  fingerprint: string;
  errcode?: string;
  error: string;
  /**
   * The reason the operator's own check gave (a Secret, service or target missing or invalid), when it
   * is that and not DingTalk that holds the alarms; the service's conditions say it already.
   */
  problem?: string;
  /**
   * When DingTalk last answered that the month's quota is spent (the time of the refused attempt, which
   * the ledger records as lastAttemptAt): released when the month has turned since, too.
   */
  quotaSpentAt?: number;
  /** Messages by msgUuid (re-sent under it when released): only the notifications the ledger records. */
  messages: Map<string, Notification[]>;
}

type Caches = OperatorContext['caches'];

/**
 * The held alarms of each target: filled by the ledger recorder when a queue reports a message held,
 * consulted by the notify step (a held target's new alarms join the held ones instead of spending the
 * robot's budget), released or expired by the dispatcher's periodic check. Every change is reported
 * to the registry the DingTalkService controller reads its conditions from.
 */
export class HeldAlarms {
  readonly #entries = new Map<string, HeldEntry>();
  readonly #registry: HeldTargets;
  readonly #caches: Caches;

  constructor(registry: HeldTargets, caches: Caches) {
    this.#registry = registry;
    this.#caches = caches;
  }

  get size(): number {
    return this.#entries.size;
  }

  of(namespace: string, ref: Pick<TargetRef, 'service' | 'kind' | 'name'>): HeldEntry | undefined {
    return this.#entries.get(heldKey(namespace, ref));
  }

  /** The held targets, of one namespace if given. */
  list(namespace?: string): HeldEntry[] {
    return [...this.#entries.values()].filter(
      (held) => namespace === undefined || held.namespace === namespace,
    );
  }

  /**
   * The target's entry, made at its first refusal (held since `since()`, with the fingerprint of its
   * configuration now), carrying DingTalk's newest answer.
   */
  refused(
    namespace: string,
    ref: TargetRef,
    failure: Pick<SendFailure, 'errcode' | 'error'> & { problem?: string; quotaSpentAt?: number },
    since: () => number,
  ): HeldEntry {
    const key = heldKey(namespace, ref);
    let held = this.#entries.get(key);
    if (!held) {
      held = {
        namespace,
        ref,
        since: since(),
        fingerprint: this.#fingerprint(namespace, ref),
        errcode: failure.errcode,
        error: failure.error,
        messages: new Map(),
      };
      this.#entries.set(key, held);
    }
    Object.assign(held, {
      errcode: failure.errcode,
      error: failure.error,
      problem: failure.problem,
      quotaSpentAt: failure.quotaSpentAt,
    });
    return held;
  }

  /** Keeps notifications for the release, under the msgUuid they are then sent with. */
  add(held: HeldEntry, notifications: Notification[], msgUuid: string = randomUUID()): void {
    if (notifications.length > 0) held.messages.set(msgUuid, notifications);
  }

  /** Tells the registry (and so the service's conditions) what the target holds now. */
  report(held: HeldEntry): void {
    if (held.problem) return;
    this.#registry.hold({
      namespace: held.namespace,
      service: held.ref.service,
      kind: held.ref.kind,
      name: held.ref.name,
      errcode: held.errcode,
      message: redactUrl(held.error).slice(0, 256),
      since: held.since,
      alarms: [...held.messages.values()].reduce(
        (sum, ns) => sum + ns.reduce((k, n) => k + n.alarms.length, 0),
        0,
      ),
      ...(held.quotaSpentAt !== undefined && { quota: true as const }),
    });
  }

  /** True when the target's configuration is no longer the one DingTalk refused. */
  changed(held: HeldEntry): boolean {
    return this.#fingerprint(held.namespace, held.ref) !== held.fingerprint;
  }

  /** Takes the target's configuration as it is now as the one to wait past. */
  refresh(held: HeldEntry): void {
    held.fingerprint = this.#fingerprint(held.namespace, held.ref);
  }

  /** The target holds nothing any more (released or expired). */
  remove(held: HeldEntry): void {
    this.#entries.delete(heldKey(held.namespace, held.ref));
    this.#registry.release({
      namespace: held.namespace,
      service: held.ref.service,
      kind: held.ref.kind,
      name: held.ref.name,
    });
  }

  /**
   * What sending to a target depends on: the service's generation and annotations (touching one
   * releases after a fix on DingTalk's side) and the resolved credentials. Only its digest is kept.
   */
  #fingerprint(namespace: string, ref: TargetRef): string {
    const raw = this.#caches.services.get(namespace, ref.service);
    const planned = planTargets(
      namespace,
      [{ name: ref.service } as ServiceRef],
      { service: (ns, name) => this.#caches.services.get(ns, name) },
      cacheReader(this.#caches),
    ).find((t) => t.kind === ref.kind && (t.kind === 'Member' || t.name === ref.name));
    const credentials =
      planned?.kind === 'Group'
        ? planned.group?.robots.map(({ webhook, secret, keywords }) => ({ webhook, secret, keywords }))
        : planned?.app && {
            clientId: planned.app.clientId,
            secret: planned.app.clientSecret,
            robotCode: planned.app.robotCode,
          };
    return digest(
      JSON.stringify([
        raw?.metadata?.generation,
        raw?.metadata?.annotations ?? {},
        planned?.problem?.reason,
        credentials ?? null,
      ]),
    );
  }
}

function heldKey(namespace: string, ref: Pick<TargetRef, 'service' | 'kind' | 'name'>): string {
  return JSON.stringify([namespace, ref.service, ref.kind, ref.name]);
}
