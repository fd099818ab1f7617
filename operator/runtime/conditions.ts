import { z } from 'zod';
import { ErrorCode, OperatorError } from '../errors.ts';
import { truncateUtf8 } from './text.ts';

/**
 * Condition helpers with kstatus semantics, shaped like metav1.Condition.
 *
 * lastTransitionTime follows metav1 (apimachinery SetStatusCondition), not Flux: it moves only when the
 * status flips. A reason or message change alone keeps the time, so "since when has this been False"
 * stays answerable while the explanation is refined.
 *
 * Ready is the summary; Reconciling and Stalled are "abnormal-true" conditions, present only while
 * True (markReconciling removes Stalled and vice versa).
 */

export const ConditionType = {
  Ready: 'Ready',
  Reconciling: 'Reconciling',
  Stalled: 'Stalled',
} as const;

/** Generic reasons (Flux's meta package); controllers add domain reasons of their own. */
export const ConditionReason = {
  Succeeded: 'Succeeded',
  Failed: 'Failed',
  Progressing: 'Progressing',
  ProgressingWithRetry: 'ProgressingWithRetry',
  DependencyNotReady: 'DependencyNotReady',
} as const;

/** metav1.Condition's bound on `message`. */
export const MAX_MESSAGE_BYTES = 32 * 1024;
const REASON_PATTERN = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

export const conditionSchema = z.object({
  type: z.string().min(1).max(316),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().min(1).max(1024).regex(REASON_PATTERN),
  message: z.string(),
  lastTransitionTime: z.string(),
  observedGeneration: z.number().int().min(0).optional(),
});
export type Condition = z.infer<typeof conditionSchema>;
export type ConditionStatus = Condition['status'];

/** Any object with metadata.generation and status.conditions (a clone of a cached object, never the cached one). */
export interface Conditioned {
  metadata?: { generation?: number };
  status?: { conditions?: Condition[] } & Record<string, unknown>;
}

export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

const ORDER: readonly string[] = [ConditionType.Ready, ConditionType.Reconciling, ConditionType.Stalled];

export function get(obj: Conditioned, type: string): Condition | undefined {
  return obj.status?.conditions?.find((c) => c.type === type);
}

export function isTrue(obj: Conditioned, type: string): boolean {
  return get(obj, type)?.status === 'True';
}

export function isReady(obj: Conditioned): boolean {
  return isTrue(obj, ConditionType.Ready);
}

/** Sets (adds or updates) a condition, stamping the object's generation on it. */
export function set(obj: Conditioned, input: ConditionInput, now: Date = new Date()): void {
  if (!REASON_PATTERN.test(input.reason) || input.reason.length > 1024) {
    throw new OperatorError(
      ErrorCode.InvalidCondition,
      `condition ${input.type}: reason ${JSON.stringify(input.reason)} must be CamelCase letters, digits, _ , :`,
    );
  }
  obj.status ??= {};
  const status = obj.status;
  const conditions = status.conditions ?? [];
  const previous = conditions.find((c) => c.type === input.type);
  const next: Condition = {
    type: input.type,
    status: input.status,
    reason: input.reason,
    message: truncateUtf8(input.message, MAX_MESSAGE_BYTES),
    lastTransitionTime:
      previous && previous.status === input.status ? previous.lastTransitionTime : formatTime(now),
  };
  const generation = obj.metadata?.generation;
  if (generation !== undefined) next.observedGeneration = generation;
  status.conditions = sortConditions([...conditions.filter((c) => c.type !== input.type), next]);
}

export function markTrue(obj: Conditioned, type: string, reason: string, message: string, now?: Date): void {
  set(obj, { type, status: 'True', reason, message }, now);
}

export function markFalse(obj: Conditioned, type: string, reason: string, message: string, now?: Date): void {
  set(obj, { type, status: 'False', reason, message }, now);
}

export function markUnknown(
  obj: Conditioned,
  type: string,
  reason: string,
  message: string,
  now?: Date,
): void {
  set(obj, { type, status: 'Unknown', reason, message }, now);
}

/** Reconciling=True; an object making progress is not stalled. */
export function markReconciling(obj: Conditioned, reason: string, message: string, now?: Date): void {
  markTrue(obj, ConditionType.Reconciling, reason, message, now);
  remove(obj, ConditionType.Stalled);
}

/** Stalled=True; an object that cannot make progress is not reconciling. */
export function markStalled(obj: Conditioned, reason: string, message: string, now?: Date): void {
  markTrue(obj, ConditionType.Stalled, reason, message, now);
  remove(obj, ConditionType.Reconciling);
}

export function remove(obj: Conditioned, type: string): void {
  const conditions = obj.status?.conditions;
  if (!conditions || !obj.status) return;
  obj.status.conditions = conditions.filter((c) => c.type !== type);
}

/** Ready, Reconciling, Stalled first, then the rest by type, so equal content serialises equally. */
function sortConditions(conditions: Condition[]): Condition[] {
  const rank = (type: string) => {
    const i = ORDER.indexOf(type);
    return i === -1 ? ORDER.length : i;
  };
  return conditions.sort((a, b) => rank(a.type) - rank(b.type) || a.type.localeCompare(b.type));
}

/** metav1.Time is RFC 3339 with second precision. */
function formatTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}
