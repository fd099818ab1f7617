import { SEVERITIES, type Severity } from '../api/index.ts';
import type { GroupMessage } from '../dingtalk/index.ts';
import type { Alarm } from './alarm.ts';
import type { Notification } from './notification.ts';
import { renderTemplate } from './templates.ts';

/**
 * Message text. One notification reads as the rule's templates say (built-in markdown otherwise); a
 * digest — several notifications merged because the robot's budget is short — lists every alarm on one
 * short line. Messages stay below DingTalk's 20000-byte limit: a digest that would not fit is cut
 * between alarms and the rest goes into the next message.
 */

/** Budget for a message's text as it appears in JSON, leaving room for title, mentions and keyword. */
export const MAX_TEXT_BYTES = 18_000;
const MAX_MENTIONS = 50;
const MAX_LINE_CHARS = 200;

export function severityMarker(alarm: Alarm): string {
  return alarm.spec.state === 'resolved' ? '【RESOLVED】' : `【${alarm.spec.severity.toUpperCase()}】`;
}

function worstSeverity(alarms: readonly Alarm[]): Severity {
  let worst = SEVERITIES.length - 1;
  for (const alarm of alarms) worst = Math.min(worst, SEVERITIES.indexOf(alarm.spec.severity));
  return SEVERITIES[worst] as Severity;
}

function labelText(
  labels: Readonly<Record<string, string>> | undefined,
  skip: Readonly<Record<string, string>>,
) {
  return Object.entries(labels ?? {})
    .filter(([key]) => !(key in skip))
    .map(([key, value]) => `${key}=${value}`)
    .join(', ');
}

/** What templates see of an alarm. */
export function alarmScope(alarm: Alarm) {
  const { spec } = alarm;
  return {
    name: alarm.name,
    namespace: alarm.namespace,
    severity: spec.severity,
    title: spec.title,
    message: spec.message ?? '',
    labels: spec.labels ?? {},
    annotations: spec.annotations ?? {},
    source: spec.source ?? '',
    state: spec.state,
    resolved: spec.state === 'resolved',
    startsAt: alarm.startsAt,
    endsAt: spec.endsAt ?? '',
    fingerprint: alarm.fingerprint,
  };
}

function defaultTitle(n: Notification): string {
  const [first] = n.alarms;
  if (!first) return 'Alarm';
  const allResolved = n.alarms.every((a) => a.spec.state === 'resolved');
  const marker = allResolved ? '【RESOLVED】' : `【${worstSeverity(n.alarms).toUpperCase()}】`;
  const repeat = n.repeat ? ' (still firing)' : '';
  if (n.alarms.length === 1) return `${marker}${first.spec.title}${repeat}`;
  return `${marker}${n.alarms.length} alarms: ${first.spec.title}${repeat}`;
}

function defaultBody(n: Notification): string {
  const lines = [`### ${defaultTitle(n)}`];
  const grouped = labelText(n.groupLabels, {});
  if (grouped) lines.push(`Group: ${grouped}`);
  for (const alarm of n.alarms) {
    const { spec } = alarm;
    lines.push('', `#### ${severityMarker(alarm)}${spec.title}`);
    const when =
      spec.state === 'resolved'
        ? `Resolved ${spec.endsAt ?? ''} · started ${alarm.startsAt}`
        : `Firing since ${alarm.startsAt}`;
    lines.push(`- ${when}${spec.source ? ` · source ${spec.source}` : ''}`);
    const labels = labelText(spec.labels, n.groupLabels);
    if (labels) lines.push(`- Labels: ${labels}`);
    for (const [key, value] of Object.entries(spec.annotations ?? {})) lines.push(`- ${key}: ${value}`);
    if (spec.message) lines.push('', spec.message);
  }
  lines.push('', `Rule ${n.rule.namespace}/${n.rule.name}`);
  return lines.join('\n');
}

/** One notification as its rule's templates render it. */
export function renderNotification(n: Notification, maxBytes = MAX_TEXT_BYTES): GroupMessage | undefined {
  const [first] = n.alarms;
  const templates = n.templates.forSeverity(first ? worstSeverity(n.alarms) : 'info');
  const alarms = n.alarms.map(alarmScope);
  const scope = {
    alarm: alarms[0],
    alarms,
    groupLabels: n.groupLabels,
    repeat: n.repeat,
    rule: { name: n.rule.name, namespace: n.rule.namespace, description: n.rule.description ?? '' },
    service: { name: n.target.service },
  };
  const title = (renderTemplate(templates.title, scope) ?? '').trim() || defaultTitle(n);
  const text = renderTemplate(templates.body, scope) ?? defaultBody(n);
  if (jsonBytes(text) > maxBytes) return undefined;
  const mentions = mentionsFor([n]);
  const url = renderTemplate(templates.url, scope)?.trim();
  switch (templates.type) {
    case 'text':
      return { type: 'text', content: `${title}\n${text}`, mentions };
    case 'link':
      if (url) return { type: 'link', title, text, messageUrl: url };
      break;
    case 'actionCard':
      if (url) {
        return {
          type: 'actionCard',
          title,
          text,
          buttons: [{ title: templates.buttonTitle ?? 'View details', actionURL: url }],
          mentions,
        };
      }
      break;
  }
  return { type: 'markdown', title, text, mentions };
}

/** One alarm as a digest line. */
export function digestLine(alarm: Alarm, skipLabels: Readonly<Record<string, string>> = {}): string {
  const labels = labelText(alarm.spec.labels, skipLabels);
  const when = alarm.spec.state === 'resolved' ? `resolved ${alarm.spec.endsAt ?? ''}` : alarm.startsAt;
  const line = `- ${severityMarker(alarm)}${alarm.spec.title}${labels ? ` · ${labels}` : ''} · ${when}`;
  return line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS - 1)}…` : line;
}

export interface DigestPart {
  message: GroupMessage;
  /** The notifications the message covers; the last may be a part of a longer one. */
  taken: Notification[];
  /** What did not fit, in order, for the next message. */
  rest: Notification[];
}

/** Merges queued notifications into one digest message, as many whole alarms as fit. */
export function packDigest(queue: readonly Notification[], maxBytes = MAX_TEXT_BYTES): DigestPart {
  const taken: Notification[] = [];
  const lines: string[] = [];
  let bytes = 200;
  let rest: Notification[] = [];
  for (let i = 0; i < queue.length; i++) {
    const n = queue[i] as Notification;
    const fitting: Alarm[] = [];
    for (const alarm of n.alarms) {
      const line = digestLine(alarm);
      const size = jsonBytes(line) + 2;
      if (bytes + size > maxBytes && (taken.length > 0 || fitting.length > 0)) break;
      bytes += size;
      lines.push(line);
      fitting.push(alarm);
    }
    if (fitting.length === n.alarms.length) {
      taken.push(n);
      continue;
    }
    if (fitting.length > 0) taken.push({ ...n, alarms: fitting });
    rest = [{ ...n, alarms: n.alarms.slice(fitting.length) }, ...queue.slice(i + 1)];
    break;
  }
  const alarms = taken.flatMap((n) => n.alarms);
  const title = `${alarms.length} alarms: ${alarms[0]?.spec.title ?? ''}`;
  const heading = `### 【${worstSeverity(alarms).toUpperCase()}】${alarms.length} alarms`;
  const text = [heading, '', ...lines].join('\n');
  return { message: { type: 'markdown', title, text, mentions: mentionsFor(taken) }, taken, rest };
}

/** The rule's mentions plus whoever the alarms' labels name (fromLabels), at most DingTalk's 50. */
export function mentionsFor(notifications: readonly Notification[]): {
  userIds: string[];
  mobiles: string[];
  all: boolean;
} {
  const userIds = new Set<string>();
  const mobiles = new Set<string>();
  let all = false;
  for (const n of notifications) {
    const mentions = n.templates.forSeverity(worstSeverity(n.alarms)).mentions ?? n.rule.mentions;
    if (!mentions) continue;
    all ||= mentions.atAll;
    for (const id of mentions.userIds ?? []) userIds.add(id);
    for (const mobile of mentions.mobiles ?? []) mobiles.add(mobile);
    for (const { key, type } of mentions.fromLabels ?? []) {
      for (const alarm of n.alarms) {
        const value = alarm.spec.labels?.[key];
        if (value) (type === 'mobile' ? mobiles : userIds).add(value);
      }
    }
  }
  return {
    userIds: [...userIds].slice(0, MAX_MENTIONS),
    mobiles: [...mobiles].slice(0, Math.max(0, MAX_MENTIONS - userIds.size)),
    all,
  };
}

function jsonBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text));
}
