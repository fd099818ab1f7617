import { createHash } from 'node:crypto';

/**
 * Which robots of a tenant's pools dispatch skips, and until when. A robot is marked when DingTalk
 * blocks it (410100/130101/660026: sending too fast), disables it (400102), no longer knows it
 * (400106/300001/300005/400101) or refuses it (310000: signature, keywords or IP allow-list drifted).
 *
 * Recovery, decided per trouble:
 * - Blocked: healthy again once the block period ends;
 * - Disabled, Removed, Refused: healthy again at once when the robot's credentials (its Secrets' values,
 *   its keywords) change; otherwise the robot gets a trial once per block period: the next message
 *   routed to it either goes through, which clears the mark, or fails again and moves on to a healthy
 *   robot, as the first did. No probe message is sent: a probe would spend the robot's budget and show
 *   up in the group.
 *
 * Keyed by namespace, service, group and robot name: one tenant's wrong secret for a shared robot marks
 * that tenant's robot only.
 */

export type RobotTrouble = 'Blocked' | 'Disabled' | 'Removed' | 'Refused';

const troubles = new Map<string, RobotTrouble>([
  ['410100', 'Blocked'],
  ['130101', 'Blocked'],
  ['660026', 'Blocked'],
  ['400102', 'Disabled'],
  ['400106', 'Removed'],
  ['300001', 'Removed'],
  ['300005', 'Removed'],
  ['400101', 'Removed'],
  ['310000', 'Refused'],
]);

/** The trouble a DingTalk errcode says a robot is in; undefined for answers about the message itself. */
export function troubleOf(errcode: string | number | undefined): RobotTrouble | undefined {
  return errcode === undefined ? undefined : troubles.get(String(errcode));
}

/** One robot of one tenant's group. */
export interface RobotId {
  namespace: string;
  service: string;
  group: string;
  robot: string;
}

/** What marks a robot's credentials: a digest, so no credential is kept here. */
export interface RobotCredentials {
  webhook: string;
  secret?: string;
  keywords: readonly string[];
}

export interface RobotMark extends RobotId {
  trouble: RobotTrouble;
  errcode?: string;
  message?: string;
  since: number;
  /** When the robot is healthy again (Blocked) or gets its next trial (the others). */
  retryAt: number;
  fingerprint: string;
}

export class RobotHealthBook {
  readonly #marks = new Map<string, RobotMark>();
  readonly #retryMs: number;

  /** `retryMs`: how long a block lasts, and how long the other troubles wait for a trial. */
  constructor({ retryMs }: { retryMs: number }) {
    this.#retryMs = retryMs;
  }

  /** DingTalk answered `errcode` for the robot; returns the mark, or undefined when no trouble of the robot. */
  failed(
    id: RobotId,
    credentials: RobotCredentials,
    failure: { errcode?: string; message?: string },
    at: number,
  ): RobotMark | undefined {
    const trouble = troubleOf(failure.errcode);
    if (!trouble) return undefined;
    const key = keyOf(id);
    const since = this.#marks.get(key)?.since ?? at;
    const mark: RobotMark = {
      ...id,
      trouble,
      errcode: failure.errcode,
      message: failure.message?.slice(0, 1024),
      since,
      retryAt: at + this.#retryMs,
      fingerprint: fingerprintOf(credentials),
    };
    this.#marks.set(key, mark);
    return mark;
  }

  /** DingTalk took a message through the robot: whatever it was in, it is over. */
  succeeded(id: RobotId): RobotMark | undefined {
    const key = keyOf(id);
    const mark = this.#marks.get(key);
    this.#marks.delete(key);
    return mark;
  }

  /** Whether alarms may be routed to the robot now (a trial counts as healthy). */
  healthy(id: RobotId, credentials: RobotCredentials, now: number): boolean {
    const key = keyOf(id);
    const mark = this.#marks.get(key);
    if (!mark) return true;
    if (mark.trouble !== 'Blocked' && mark.fingerprint !== fingerprintOf(credentials)) {
      this.#marks.delete(key);
      return true;
    }
    return now >= mark.retryAt;
  }

  /** The marks of one group, for its status. */
  marksOf(namespace: string, service: string, group: string): RobotMark[] {
    return [...this.#marks.values()].filter(
      (m) => m.namespace === namespace && m.service === service && m.group === group,
    );
  }

  /** Forgets the marks `keep` says no longer matter (robot or service gone). */
  prune(keep: (mark: RobotMark) => boolean): void {
    for (const [key, mark] of this.#marks) if (!keep(mark)) this.#marks.delete(key);
  }
}

function keyOf({ namespace, service, group, robot }: RobotId): string {
  return JSON.stringify([namespace, service, group, robot]);
}

function fingerprintOf({ webhook, secret, keywords }: RobotCredentials): string {
  return createHash('sha256')
    .update(JSON.stringify([webhook, secret ?? null, keywords]))
    .digest('hex')
    .slice(0, 16);
}
