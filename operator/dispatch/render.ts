import { SEVERITIES, type Severity } from '../api/index.ts';
import type { GroupMessage } from '../dingtalk/index.ts';
import { templateScope } from '../rules/template-scope.ts';
import { renderTemplates, type TemplateRenderer } from '../rules/templates.ts';
import { escapeMarkdown, inlineMarkdown, isMentionable, oneLine } from '../rules/untrusted.ts';
import type { Alarm } from './alarm.ts';
import type { Notification } from './notification.ts';

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

export function worstSeverity(alarms: readonly Alarm[]): Severity {
  let worst = SEVERITIES.length - 1;
  for (const alarm of alarms) worst = Math.min(worst, SEVERITIES.indexOf(alarm.spec.severity));
  return SEVERITIES[worst] as Severity;
}

/** Labels as markdown text, each key and value on one line with nothing to click. */
function labelText(
  labels: Readonly<Record<string, string>> | undefined,
  skip: Readonly<Record<string, string>>,
) {
  return Object.entries(labels ?? {})
    .filter(([key]) => !(key in skip))
    .map(([key, value]) => `${inlineMarkdown(key)}=${inlineMarkdown(value)}`)
    .join(', ');
}

function defaultTitle(n: Notification): string {
  const [first] = n.alarms;
  if (!first) return 'Alarm';
  const allResolved = n.alarms.every((a) => a.spec.state === 'resolved');
  const marker = allResolved ? '【RESOLVED】' : `【${worstSeverity(n.alarms).toUpperCase()}】`;
  const repeat = n.repeat ? ' (still firing)' : '';
  const title = oneLine(first.spec.title);
  if (n.alarms.length === 1) return `${marker}${title}${repeat}`;
  return `${marker}${n.alarms.length} alarms: ${title}${repeat}`;
}

/** The built-in markdown: alarm content is escaped, and each alarm's message is quoted below its heading. */
function defaultBody(n: Notification): string {
  const lines = [`### ${escapeMarkdown(defaultTitle(n))}`];
  const grouped = labelText(n.groupLabels, {});
  if (grouped) lines.push(`Group: ${grouped}`);
  for (const alarm of n.alarms) {
    const { spec } = alarm;
    lines.push('', `#### ${severityMarker(alarm)}${inlineMarkdown(spec.title)}`);
    const when =
      spec.state === 'resolved'
        ? `Resolved ${spec.endsAt ?? ''} · started ${alarm.startsAt}`
        : `Firing since ${alarm.startsAt}`;
    lines.push(`- ${when}${spec.source ? ` · source ${inlineMarkdown(spec.source)}` : ''}`);
    const labels = labelText(spec.labels, n.groupLabels);
    if (labels) lines.push(`- Labels: ${labels}`);
    for (const [key, value] of Object.entries(spec.annotations ?? {}))
      lines.push(`- ${inlineMarkdown(key)}: ${inlineMarkdown(value)}`);
    if (spec.message)
      lines.push(
        '',
        ...escapeMarkdown(spec.message)
          .split(/\r\n|[\r\n\u2028\u2029]/)
          .map((l) => `> ${l}`),
      );
  }
  lines.push('', `Rule ${n.rule.namespace}/${n.rule.name}`);
  return lines.join('\n');
}

/** One notification as its rule's templates render it (in the template pool). */
export async function renderNotification(
  n: Notification,
  renderer: TemplateRenderer,
  maxBytes = MAX_TEXT_BYTES,
): Promise<GroupMessage | undefined> {
  const [first] = n.alarms;
  const templates = n.templates.forSeverity(first ? worstSeverity(n.alarms) : 'info');
  const [titleText, bodyText, urlText] = await renderTemplates(
    renderer,
    [templates.title, templates.body, templates.url],
    templateScope(n),
    n.rule.namespace,
  );
  const title = oneLine(titleText ?? '').trim() || defaultTitle(n);
  const text = bodyText ?? defaultBody(n);
  if (jsonBytes(text) > maxBytes) return undefined;
  const mentions = mentionsFor([n]);
  const url = urlText?.trim();
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
  const line = `- ${severityMarker(alarm)}${inlineMarkdown(alarm.spec.title)}${labels ? ` · ${labels}` : ''} · ${when}`;
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
  const title = `${alarms.length} alarms: ${oneLine(alarms[0]?.spec.title ?? '')}`;
  const heading = `### 【${worstSeverity(alarms).toUpperCase()}】${alarms.length} alarms`;
  const text = [heading, '', ...lines].join('\n');
  return { message: { type: 'markdown', title, text, mentions: mentionsFor(taken) }, taken, rest };
}

/**
 * The rule's mentions plus whoever the alarms' labels name (fromLabels), at most DingTalk's 50. A label
 * value that is not shaped like a userId or mobile mentions nobody: it is appended to the text as `@value`.
 */
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
        if (value && isMentionable(type, value)) (type === 'mobile' ? mobiles : userIds).add(value);
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
