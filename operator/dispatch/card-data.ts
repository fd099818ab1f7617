import {
  type Acknowledgement,
  DEFAULT_SNOOZE_DURATIONS,
  type Interactive,
  type Severity,
} from '../api/index.ts';
import { maxCardValueBytes } from '../dingtalk/cards.ts';
import type { GroupMessage } from '../dingtalk/index.ts';
import { capBytes } from './alarm-projection.ts';

/**
 * The data of an alarm card, as the card template's variables (examples/dingtalk/card-template.json): what the
 * card says, and its state line and buttons, which change in place when someone acts. Every value is a
 * string of at most 1 KB, as DingTalk takes card data.
 */

export type CardParams = Record<string, string>;

export interface CardContent {
  content: GroupMessage;
  severity: Severity;
  interactive: Interactive;
}

/** The card as first sent: firing, with the buttons the rule offers. */
export function initialCardData({ content, severity, interactive }: CardContent): CardParams {
  const { title, text } = titleAndText(content);
  return {
    title: fitValue(title),
    severity,
    text: fitValue(text),
    ...stateData(undefined, interactive),
  };
}

/**
 * What changes on the card when the alarm is acknowledged, snoozed or resolved (merged by key): the
 * state, a line saying by whom or until when, and the buttons still useful. One update per change of
 * the acknowledgement, never per repeat.
 */
export function stateData(
  ack: Acknowledgement | undefined,
  interactive: Interactive | undefined,
): CardParams {
  const offered = interactive?.actions ?? [];
  const snoozeDurations = offered.includes('Snooze')
    ? (interactive?.snoozeDurations ?? [...DEFAULT_SNOOZE_DURATIONS])
    : [];
  if (!ack) {
    return {
      state: 'Firing',
      stateText: 'firing: nobody has acknowledged it yet',
      actions: offered.join(','),
      snoozeDurations: snoozeDurations.join(','),
    };
  }
  const who = ack.by?.name ?? ack.by?.userId ?? 'someone at a terminal';
  const stateText = {
    Acknowledged: `acknowledged by ${who}`,
    Snoozed: `snoozed until ${ack.until ?? '?'} by ${who}`,
    Resolved: `resolved by ${who}`,
  }[ack.action];
  // Acknowledged: resolving is still useful; snoozed: acknowledging or resolving; resolved: nothing.
  const still = offered.filter(
    (action) => ack.action !== 'Resolved' && !(ack.action === 'Acknowledged' && action === 'Acknowledge'),
  );
  return {
    state: ack.action,
    stateText: fitValue(stateText),
    actions: still.join(','),
    snoozeDurations: still.includes('Snooze') ? snoozeDurations.join(',') : '',
  };
}

function titleAndText(content: GroupMessage): { title: string; text: string } {
  switch (content.type) {
    case 'markdown':
    case 'actionCard':
    case 'link':
      return { title: content.title, text: content.text };
    default: {
      const text = 'content' in content ? String(content.content) : '';
      return { title: text.split('\n', 1)[0] ?? '', text };
    }
  }
}

function fitValue(text: string): string {
  return capBytes(text, maxCardValueBytes);
}
