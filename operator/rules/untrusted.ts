/**
 * Alarm content comes from whoever may create AlarmEvents (or post to the receiver) and must not be able to
 * forge the structure of a message: fake status lines, links, images or @-mentions. These helpers make it
 * inert where the operator, not the rule's template, decides the structure.
 */

// Line breaks (including Unicode's), other control characters and the BOM: Unicode's Cc category.
const BREAKS = /[\p{Cc}\u2028\u2029\ufeff]+/gu;

// Invisible characters that reorder or join what is shown: bidi embeddings, overrides, isolates and marks
// (a title can be made to read backwards, or a link to look like another), zero-width spaces and joiners.
const INVISIBLE = /[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069]/gu;

/** The text without the invisible characters that change how the rest reads. */
export function visible(text: string): string {
  return text.replace(INVISIBLE, '');
}

/** The text on one line: line breaks and control characters become one space; invisible ones go. */
export function oneLine(text: string): string {
  return visible(text).replace(BREAKS, ' ');
}

/**
 * Markdown that shows as the text it is: no link, image, autolink or HTML (brackets and angle brackets
 * are escaped, so no quote either) and no heading (a leading # or an underline of = or -). Emphasis and
 * lists stay possible; they cannot mislead.
 */
export function escapeMarkdown(text: string): string {
  return visible(text)
    .replace(/[\\[\]<>]/g, '\\$&')
    .replace(/^([ \t]*)#/gm, '$1\\#')
    .replace(/^([ \t]*)(=+|-+)([ \t]*)$/gm, '$1\\$2$3');
}

/** Markdown for a value that must stay on one line. */
export function inlineMarkdown(text: string): string {
  return escapeMarkdown(oneLine(text));
}

// DingTalk userIds are short ASCII identifiers; mobiles are digits with an optional + and dashes.
const USER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MOBILE = /^\+?[0-9]+(-[0-9]+)*$/;

/** Whether an alarm label's value has the shape of what it is used as in an @-mention. */
export function isMentionable(type: 'userId' | 'mobile', value: string): boolean {
  if (type === 'userId') return USER_ID.test(value);
  return value.length >= 5 && value.length <= 32 && MOBILE.test(value);
}
