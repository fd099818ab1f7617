import { Marked } from 'marked';
import type { RecordedMessage } from './schemas.ts';

/** The page at `/`: what DingTalk would show, per group and per member, newest first. */

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

// Message text is untrusted: raw HTML inside markdown is shown as text, not rendered.
const markdown = new Marked({ breaks: true, renderer: { html: ({ text }) => escapeHtml(text) } });

const markdownTypes = new Set(['markdown', 'actionCard', 'sampleMarkdown', 'sampleActionCard']);

export function renderPage(messages: readonly RecordedMessage[]): string {
  const conversations = new Map<string, RecordedMessage[]>();
  for (const message of [...messages].reverse()) {
    const name = message.to.kind === 'group' ? `Group · ${message.to.name}` : `Member · ${message.to.userId}`;
    conversations.set(name, [...(conversations.get(name) ?? []), message]);
  }
  const sections = [...conversations]
    .map(
      ([name, list]) => `<section><h2>${escapeHtml(name)}</h2>${list.map(renderMessage).join('')}</section>`,
    )
    .join('');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>DingTalk emulator</title><meta http-equiv="refresh" content="5">
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;background:#f5f6f7}
section{margin-bottom:2rem}article{background:#fff;border-radius:8px;padding:.75rem 1rem;margin:.5rem 0}
.meta{color:#888;font-size:.8rem}.mention{color:#0089ff}
</style></head>
<body><h1>DingTalk emulator</h1>${sections || '<p>No messages received yet.</p>'}</body></html>`;
}

function renderMessage(message: RecordedMessage): string {
  const isMarkdown = markdownTypes.has(message.type) || message.type.startsWith('sampleActionCard');
  const text = isMarkdown
    ? (markdown.parse(message.text, { async: false }) as string)
    : `<p>${escapeHtml(message.text).replaceAll('\n', '<br>')}</p>`;
  const title = message.title ? `<strong>${escapeHtml(message.title)}</strong>` : '';
  const mentioned = message.mentions?.notified.length
    ? `<div class="mention">notified: ${message.mentions.notified.map((who) => `@${escapeHtml(who)}`).join(' ')}</div>`
    : '';
  const when = new Date(message.receivedAt).toISOString();
  return `<article><div class="meta">${escapeHtml(message.type)} · ${when}</div>${title}${text}${mentioned}</article>`;
}
