import { z } from 'zod';
import {
  ALARM_EVENT_MAP_LENGTHS,
  AlarmEventSpec,
  type AlarmEventSpec as Spec,
  Timestamp,
} from '../api/index.ts';
import { fitStringMap } from '../api/string-map.ts';
import { severityOf } from './severity.ts';

/**
 * Alertmanager's webhook payload (version 4) and Grafana's alerting webhook payload, and how one alert
 * of either becomes an AlarmEvent spec. Grafana's payload is Alertmanager's with a few fields added.
 * Only what the mapping reads is validated; unknown fields are ignored, as both add fields over time.
 */

const MAX_TITLE = 256;
const MAX_ANNOTATION = 4096;
const MAX_ANNOTATIONS = 64;

const stringRecord = z.record(z.string(), z.string());

const alertFields = {
  status: z.enum(['firing', 'resolved']),
  labels: stringRecord,
  annotations: stringRecord.optional(),
  startsAt: Timestamp,
  // Firing alerts carry Go's zero time (0001-01-01T00:00:00Z) or an estimated end; only resolved ones are read.
  endsAt: Timestamp.optional(),
  generatorURL: z.string().optional(),
  fingerprint: AlarmEventSpec.shape.fingerprint,
};

export const AlertmanagerAlert = z.object(alertFields);

/**
 * A payload's envelope: what must hold for the payload as a whole. Its alerts are checked one at a time
 * (`alertSchema`), so one bad alert costs only itself and no second copy of the whole list is built.
 */
export const AlertmanagerEnvelope = z.object({
  version: z.literal('4', { error: 'only version "4" of the Alertmanager webhook payload is supported' }),
  status: z.enum(['firing', 'resolved']).optional(),
  receiver: z.string().optional(),
  externalURL: z.string().optional(),
  alerts: z.array(z.unknown()),
});

export const GrafanaAlert = z.object({
  ...alertFields,
  dashboardURL: z.string().optional(),
  panelURL: z.string().optional(),
  silenceURL: z.string().optional(),
  valueString: z.string().optional(),
});

export const GrafanaEnvelope = z.object({
  status: z.enum(['firing', 'resolved']).optional(),
  receiver: z.string().optional(),
  orgId: z.number().optional(),
  externalURL: z.string().optional(),
  alerts: z.array(z.unknown()),
});

export const alertSchema = { alertmanager: AlertmanagerAlert, grafana: GrafanaAlert } as const;

type Alert = z.output<typeof AlertmanagerAlert> & Partial<z.output<typeof GrafanaAlert>>;

/** Links and values worth keeping for message templates, as annotations when there is room. */
const EXTRA_ANNOTATIONS = ['generatorURL', 'dashboardURL', 'panelURL', 'silenceURL', 'valueString'] as const;

/** The AlarmEvent spec for one alert; `now` stands in for a resolved alert's missing end. */
export function alertToSpec(alert: Alert, source: 'alertmanager' | 'grafana', now: Date): Spec {
  const annotations: Record<string, string> = {};
  for (const [key, value] of Object.entries(alert.annotations ?? {}))
    annotations[key] = truncate(value, MAX_ANNOTATION);
  for (const key of EXTRA_ANNOTATIONS) {
    const value = alert[key];
    if (value && !(key in annotations) && Object.keys(annotations).length < MAX_ANNOTATIONS) {
      annotations[key] = truncate(value, MAX_ANNOTATION);
    }
  }
  const labels = alert.labels;
  const title =
    annotations.summary ||
    annotations.title ||
    labels.alertname ||
    `${source} alert ${alert.fingerprint ?? ''}`.trim();
  const message = annotations.description || annotations.message;
  const spec: Spec = {
    severity: severityOf(labels),
    title: truncate(title, MAX_TITLE),
    labels,
    source,
    state: alert.status,
    startsAt: alert.startsAt,
  };
  if (message) spec.message = message;
  // Within the CRD's total as well: the longest annotations give way, so the alert is still stored.
  if (Object.keys(annotations).length > 0)
    spec.annotations = fitStringMap(annotations, ALARM_EVENT_MAP_LENGTHS.annotations).map;
  if (alert.fingerprint) spec.fingerprint = alert.fingerprint;
  if (alert.status === 'resolved') spec.endsAt = endOf(alert, now);
  return spec;
}

/** A resolved alert's end: as given, but never before its start (the API server rejects that) nor unset. */
function endOf(alert: Alert, now: Date): string {
  const startsAt = Date.parse(alert.startsAt);
  const endsAt = alert.endsAt ? Date.parse(alert.endsAt) : Number.NaN;
  if (Number.isNaN(endsAt) || endsAt < startsAt) {
    return startsAt > now.getTime() ? alert.startsAt : now.toISOString();
  }
  return alert.endsAt as string;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
