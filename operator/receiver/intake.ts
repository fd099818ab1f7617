import type { z } from 'zod';
import { AlarmEventSpec, type FieldIssue, fieldPath } from '../api/index.ts';
import { AlertmanagerEnvelope, alertSchema, alertToSpec, GrafanaEnvelope } from './alert-payloads.ts';
import { invalidBody, ReceiverError, ReceiverErrorCode } from './errors.ts';
import { alarmEventName, deriveFingerprint } from './naming.ts';

/**
 * Turns a request body into the AlarmEvents to write.
 *
 * The native endpoint (`intakeAlarms`) takes a batch whole or not at all: its callers can fix and split
 * what they send, so any bad item is a 400 naming every offending field, and nothing is written.
 *
 * Alertmanager and Grafana (`intakeAlerts`) cannot: they send a whole alert group, treat a 4xx as final
 * and never split. So only a malformed envelope is a 400; each alert is checked on its own, and a bad one
 * (a `__proto__` key included) is set aside (reported, never retried) without costing the others. The alert list is consumed as it is
 * read, so the parsed body and the AlarmEvent specs are never both held in full.
 */

export const PAYLOAD_KINDS = ['alarms', 'alertmanager', 'grafana'] as const;
export type PayloadKind = (typeof PAYLOAD_KINDS)[number];
export type AlertKind = Exclude<PayloadKind, 'alarms'>;

export interface IntakeLimits {
  /** Most alarms in one request to the native endpoint. */
  maxBatch: number;
  maxLabels: number;
  maxLabelLength: number;
}

export interface ReceivedAlarm {
  /** Where the alarm sits in the body, e.g. `alerts[2]`; empty for a single alarm. */
  path: string;
  name: string;
  spec: AlarmEventSpec;
}

/** An alert that can never be stored as it is, with every reason. */
export interface RejectedAlert {
  /** e.g. `alerts[2]`. */
  path: string;
  fingerprint?: string;
  issues: FieldIssue[];
}

export interface AlertIntake {
  alarms: ReceivedAlarm[];
  rejected: RejectedAlert[];
  /** Alerts already stored in this state, by `known`: nothing to check or write. */
  known: { name: string; state: 'firing' | 'resolved' }[];
}

/** Whether the AlarmEvent of this name is known to be stored in this state already. */
export type KnownWrite = (name: string, state: 'firing' | 'resolved') => boolean;

interface Item {
  path: (string | number)[];
  spec: AlarmEventSpec;
  /** Labels and annotations as the caller sent them, for the limit checks. */
  labels: Record<string, string> | undefined;
  annotations: Record<string, string> | undefined;
}

export function intakeAlarms(body: unknown, limits: IntakeLimits, now: Date): ReceivedAlarm[] {
  const items = ownAlarms(body, limits);
  const issues = items.flatMap((item) => limitIssues(item, limits));
  if (issues.length > 0) throw invalidBody(issues);
  const received: ReceivedAlarm[] = [];
  for (const item of items) {
    const checked = toReceived(item, now);
    if (!('name' in checked)) throw invalidBody(checked.issues);
    received.push(checked);
  }
  return collapseDuplicates(received);
}

export function intakeAlerts(
  kind: AlertKind,
  body: unknown,
  limits: IntakeLimits,
  now: Date,
  isKnown: KnownWrite = () => false,
): AlertIntake {
  const envelope = (kind === 'alertmanager' ? AlertmanagerEnvelope : GrafanaEnvelope).safeParse(body);
  if (!envelope.success) throw invalidBody(zodIssues(envelope.error, []));
  // The request's own array, emptied as it is read so each alert's raw form can be collected.
  const list = (body as { alerts: unknown[] }).alerts;
  const alarms: ReceivedAlarm[] = [];
  const rejected: RejectedAlert[] = [];
  const known: AlertIntake['known'] = [];
  for (let index = 0; index < list.length; index++) {
    const raw = list[index];
    list[index] = undefined;
    // Alertmanager re-sends whole groups (retries, every group_interval): an alert this receiver stored
    // lately was checked then, so only its name is worked out.
    const stored = knownName(raw, isKnown);
    if (stored) {
      known.push(stored);
      continue;
    }
    const path = ['alerts', index];
    const reject = (issues: FieldIssue[]) =>
      rejected.push({ path: fieldPath(path), fingerprint: fingerprintOf(raw), issues });
    const poisoned = prototypeKeys(raw, path);
    if (poisoned.length > 0) {
      reject(poisoned);
      continue;
    }
    const parsed = alertSchema[kind].safeParse(raw);
    if (!parsed.success) {
      reject(zodIssues(parsed.error, path));
      continue;
    }
    const alert = parsed.data;
    const item = {
      path,
      spec: alertToSpec(alert, kind, now),
      labels: alert.labels,
      annotations: alert.annotations,
    };
    const issues = limitIssues(item, limits);
    if (issues.length > 0) {
      reject(issues);
      continue;
    }
    const checked = toReceived(item, now);
    if ('name' in checked) alarms.push(checked);
    else reject(checked.issues);
  }
  return { alarms: collapseDuplicates(alarms), rejected, known };
}

/**
 * A `__proto__` key anywhere in an alert: kept by JSON.parse as an ordinary property, it would replace an
 * object's prototype wherever the alert's maps are copied key by key, so the alert is set aside.
 */
function prototypeKeys(raw: unknown, path: (string | number)[]): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const pending: { value: unknown; at: (string | number)[] }[] = [{ value: raw, at: path }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const { value, at } = next;
    if (typeof value !== 'object' || value === null) continue;
    for (const [key, child] of Object.entries(value)) {
      const childPath = [...at, Array.isArray(value) ? Number(key) : key];
      if (key === '__proto__') issues.push({ path: fieldPath(childPath), message: 'must not be a key' });
      else pending.push({ value: child, at: childPath });
    }
  }
  return issues;
}

function knownName(raw: unknown, isKnown: KnownWrite): AlertIntake['known'][number] | undefined {
  const { status, fingerprint, startsAt } = (raw ?? {}) as Record<string, unknown>;
  if (status !== 'firing' && status !== 'resolved') return undefined;
  if (typeof fingerprint !== 'string' || !fingerprint || typeof startsAt !== 'string') return undefined;
  const name = alarmEventName(fingerprint, startsAt);
  return isKnown(name, status) ? { name, state: status } : undefined;
}

function limitIssues(item: Item, limits: IntakeLimits): FieldIssue[] {
  return [
    ...mapIssues(item.labels, [...item.path, 'labels'], limits, true),
    ...mapIssues(item.annotations, [...item.path, 'annotations'], limits, false),
  ];
}

/** The alarm to write, with its defaults filled in; or why the API server would refuse it. */
function toReceived(item: Item, now: Date): ReceivedAlarm | { issues: FieldIssue[] } {
  // Mappings produce valid specs by construction; this guards the API server's rules all the same.
  const checked = AlarmEventSpec.safeParse(item.spec);
  if (!checked.success) return { issues: zodIssues(checked.error, item.path) };
  const spec = checked.data;
  spec.startsAt ??= now.toISOString();
  spec.fingerprint ??= deriveFingerprint(spec.labels ?? {}, spec.title, spec.source);
  if (spec.state === 'resolved') spec.endsAt ??= laterOf(now.toISOString(), spec.startsAt);
  return { path: fieldPath(item.path), name: alarmEventName(spec.fingerprint, spec.startsAt), spec };
}

function fingerprintOf(raw: unknown): string | undefined {
  const fingerprint = (raw as { fingerprint?: unknown } | null)?.fingerprint;
  return typeof fingerprint === 'string' ? fingerprint.slice(0, 64) : undefined;
}

function ownAlarms(body: unknown, limits: IntakeLimits): Item[] {
  const batch = Array.isArray(body);
  const list: unknown[] = batch ? body : [body];
  if (list.length === 0) throw invalidBody([{ path: '', message: 'must hold at least one alarm' }]);
  checkBatchSize(list.length, '', limits);
  const items: Item[] = [];
  const issues: FieldIssue[] = [];
  list.forEach((raw, index) => {
    const path = batch ? [index] : [];
    const parsed = AlarmEventSpec.safeParse(raw);
    if (!parsed.success) {
      issues.push(...zodIssues(parsed.error, path));
      return;
    }
    const spec = parsed.data;
    items.push({ path, spec, labels: spec.labels, annotations: spec.annotations });
  });
  if (issues.length > 0) throw invalidBody(issues);
  return items;
}

/** Throws the 400 for more alarms in one request to the native endpoint than --max-batch. */
export function checkBatchSize(
  count: number,
  path: string,
  { maxBatch }: Pick<IntakeLimits, 'maxBatch'>,
): void {
  if (count <= maxBatch) return;
  throw new ReceiverError(
    ReceiverErrorCode.BatchTooLarge,
    400,
    `${count} alarms in one request, more than the ${maxBatch} allowed: send them in smaller batches`,
    { issues: [{ path, message: `must hold at most ${maxBatch} alarms` }] },
  );
}

function mapIssues(
  map: Record<string, string> | undefined,
  path: (string | number)[],
  { maxLabels, maxLabelLength }: IntakeLimits,
  checkLengths: boolean,
): FieldIssue[] {
  if (!map) return [];
  const issues: FieldIssue[] = [];
  const entries = Object.entries(map);
  if (entries.length > maxLabels) {
    issues.push({
      path: fieldPath(path),
      message: `must have at most ${maxLabels} entries (has ${entries.length})`,
    });
  }
  if (!checkLengths) return issues;
  for (const [name, value] of entries) {
    if (name.length <= maxLabelLength && value.length <= maxLabelLength) continue;
    // Only for a label at fault: every label of every alert of a large payload passes here.
    const at = fieldPath([...path, name.length > 64 ? `${name.slice(0, 64)}…` : name]);
    if (name.length > maxLabelLength) {
      issues.push({ path: at, message: `label name must be at most ${maxLabelLength} characters` });
    }
    if (value.length > maxLabelLength) {
      issues.push({ path: at, message: `label value must be at most ${maxLabelLength} characters` });
    }
  }
  return issues;
}

function zodIssues(error: z.ZodError, prefix: (string | number)[]): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: fieldPath([
      ...prefix,
      ...issue.path.map((segment) => (typeof segment === 'symbol' ? String(segment) : segment)),
    ]),
    message: issue.message,
  }));
}

/**
 * One write per name: an alert both firing and resolved in one batch (or sent twice) would otherwise race
 * with itself. The resolved one wins, as it is the later state.
 */
function collapseDuplicates(alarms: ReceivedAlarm[]): ReceivedAlarm[] {
  const byName = new Map<string, ReceivedAlarm>();
  for (const alarm of alarms) {
    const seen = byName.get(alarm.name);
    if (!seen || (seen.spec.state === 'firing' && alarm.spec.state === 'resolved'))
      byName.set(alarm.name, alarm);
  }
  return [...byName.values()];
}

function laterOf(a: string, b: string): string {
  return Date.parse(a) >= Date.parse(b) ? a : b;
}
