import type { z } from 'zod';
import { AlarmEventSpec, type FieldIssue, fieldPath } from '../api/index.ts';
import { AlertmanagerPayload, alertToSpec, GrafanaPayload } from './alert-payloads.ts';
import { invalidBody, ReceiverError, ReceiverErrorCode } from './errors.ts';
import { alarmEventName, deriveFingerprint } from './naming.ts';

/**
 * Turns a request body into the AlarmEvents to write, or throws ReceiverError 400 naming every offending
 * field. The whole batch is checked before anything is written, so a 4xx never leaves half a batch behind.
 */

export const PAYLOAD_KINDS = ['alarms', 'alertmanager', 'grafana'] as const;
export type PayloadKind = (typeof PAYLOAD_KINDS)[number];

export interface IntakeLimits {
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

interface Item {
  path: (string | number)[];
  spec: AlarmEventSpec;
  /** Labels and annotations as the caller sent them, for the limit checks. */
  labels: Record<string, string> | undefined;
  annotations: Record<string, string> | undefined;
}

export function intake(kind: PayloadKind, body: unknown, limits: IntakeLimits, now: Date): ReceivedAlarm[] {
  const items = kind === 'alarms' ? ownAlarms(body, limits) : alerts(kind, body, limits, now);
  const issues = items.flatMap((item) => [
    ...mapIssues(item.labels, [...item.path, 'labels'], limits, true),
    ...mapIssues(item.annotations, [...item.path, 'annotations'], limits, false),
  ]);
  if (issues.length > 0) throw invalidBody(issues);

  const received = items.map((item) => {
    // Mappings produce valid specs by construction; this guards the API server's rules all the same.
    const checked = AlarmEventSpec.safeParse(item.spec);
    if (!checked.success) throw invalidBody(zodIssues(checked.error, item.path));
    const spec = checked.data;
    spec.startsAt ??= now.toISOString();
    spec.fingerprint ??= deriveFingerprint(spec.labels ?? {}, spec.title, spec.source);
    if (spec.state === 'resolved') spec.endsAt ??= laterOf(now.toISOString(), spec.startsAt);
    return { path: fieldPath(item.path), name: alarmEventName(spec.fingerprint, spec.startsAt), spec };
  });
  return collapseDuplicates(received);
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

function alerts(kind: 'alertmanager' | 'grafana', body: unknown, limits: IntakeLimits, now: Date): Item[] {
  const alertList = (body as { alerts?: unknown } | null)?.alerts;
  if (Array.isArray(alertList)) checkBatchSize(alertList.length, 'alerts', limits);
  const schema = kind === 'alertmanager' ? AlertmanagerPayload : GrafanaPayload;
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw invalidBody(zodIssues(parsed.error, []));
  return parsed.data.alerts.map((alert, index) => ({
    path: ['alerts', index],
    spec: alertToSpec(alert, kind, now),
    labels: alert.labels,
    annotations: alert.annotations,
  }));
}

function checkBatchSize(count: number, path: string, { maxBatch }: IntakeLimits): void {
  if (count <= maxBatch) return;
  throw new ReceiverError(
    ReceiverErrorCode.BatchTooLarge,
    400,
    `${count} alarms in one request, more than the ${maxBatch} allowed: send them in smaller batches (Alertmanager: set max_alerts)`,
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
