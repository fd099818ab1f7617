import type { TargetKind } from '../api/index.ts';

/**
 * Targets whose alarms are held: DingTalk refused a send for a reason only a configuration change cures.
 * Dispatch records and clears them; the DingTalkService controller reads them for the service's
 * conditions. Keyed by namespace and service, so a tenant sees only its own.
 */

export interface HeldTarget {
  namespace: string;
  service: string;
  kind: TargetKind;
  /** The group's name, or "members". */
  name: string;
  /** DingTalk's errcode (webhook) or code (app API). */
  errcode?: string;
  /** DingTalk's explanation, without credentials. */
  message: string;
  /** When the first of its alarms was held (ms since the epoch). */
  since: number;
  /** Alarms waiting for the fix. */
  alarms: number;
  /** DingTalk said the month's quota is spent: the wait is for the next month or a raised quota. */
  quota?: true;
}

type Listener = (namespace: string, service: string) => void;

export class HeldTargets {
  readonly #held = new Map<string, HeldTarget>();
  readonly #listeners = new Set<Listener>();

  /** Records or updates a held target; listeners hear of it when it is new or its errcode changed. */
  hold(target: HeldTarget): void {
    const key = keyOf(target);
    const before = this.#held.get(key);
    this.#held.set(key, target);
    if (!before || before.errcode !== target.errcode) this.#notify(target);
  }

  release(target: Pick<HeldTarget, 'namespace' | 'service' | 'kind' | 'name'>): void {
    if (this.#held.delete(keyOf(target))) this.#notify(target);
  }

  /** The held targets of one service. */
  of(namespace: string, service: string): HeldTarget[] {
    return [...this.#held.values()].filter((t) => t.namespace === namespace && t.service === service);
  }

  /** Calls `listener` whenever a service gains or loses a held target; returns the unsubscribe. */
  onChange(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #notify({ namespace, service }: Pick<HeldTarget, 'namespace' | 'service'>): void {
    for (const listener of this.#listeners) listener(namespace, service);
  }
}

function keyOf(t: Pick<HeldTarget, 'namespace' | 'service' | 'kind' | 'name'>): string {
  return JSON.stringify([t.namespace, t.service, t.kind, t.name]);
}
