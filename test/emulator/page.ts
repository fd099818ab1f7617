import { Marked } from 'marked';
import type { RecordedCard, RecordedDing, RecordedMessage } from './schemas.ts';
import type { World } from './world.ts';

/**
 * The page at `/`: what DingTalk would show, per group and per member, newest first, and the interactive
 * cards with their current data and buttons, and the DINGs sent. A button posts a click to the control API (the callback
 * goes over the card app's Stream connection) and comes back here.
 */

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

// Message text is untrusted: raw HTML inside markdown is shown as text, not rendered.
const markdown = new Marked({ breaks: true, renderer: { html: ({ text }) => escapeHtml(text) } });

const markdownTypes = new Set(['markdown', 'actionCard', 'sampleMarkdown', 'sampleActionCard']);

export function renderPage(world: World): string {
  const cards = [...world.cards.values()].reverse().map((card) => renderCard(world, card));
  const cardSection = cards.length ? `<section><h2>Interactive cards</h2>${cards.join('')}</section>` : '';
  const dings = [...world.dings].reverse().map(renderDing);
  const dingSection = dings.length
    ? `<section><h2>DING (urgent reminders)</h2>${dings.join('')}</section>`
    : '';
  return pageOf(cardSection + dingSection + renderMessages(world, world.messages));
}

function renderMessages(world: World, messages: readonly RecordedMessage[]): string {
  const conversations = new Map<string, RecordedMessage[]>();
  for (const message of [...messages].reverse()) {
    const name =
      message.to.kind === 'group'
        ? `Group · ${message.to.name}`
        : message.to.kind === 'appGroup'
          ? `Group · ${world.appGroups.get(message.to.openConversationId)?.name ?? message.to.openConversationId} (app robot)`
          : `Member · ${message.to.userId}`;
    conversations.set(name, [...(conversations.get(name) ?? []), message]);
  }
  return [...conversations]
    .map(
      ([name, list]) => `<section><h2>${escapeHtml(name)}</h2>${list.map(renderMessage).join('')}</section>`,
    )
    .join('');
}

function pageOf(sections: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>DingTalk emulator</title><meta http-equiv="refresh" content="5">
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;background:#f5f6f7}
section{margin-bottom:2rem}article{background:#fff;border-radius:8px;padding:.75rem 1rem;margin:.5rem 0}
.meta{color:#888;font-size:.8rem}.mention{color:#0089ff}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dt{color:#555}dd{margin:0}
form{display:inline}button{margin:.25rem .25rem 0 0}
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

function renderCard(world: World, card: RecordedCard): string {
  const data = Object.entries(card.cardParamMap)
    .map(([key, value]) => `<dt>${escapeHtml(key)}</dt><dd>${escapeHtml(value)}</dd>`)
    .join('');
  const buttons = world.cardTemplates.get(card.cardTemplateId)?.buttons ?? [];
  // The clicking member: on a group's card one of the group's members, as only they see it in DingTalk;
  // on a one-to-one card any known user (the operator decides whether they may act).
  const groups = card.spaces
    .filter((space) => space.startsWith('IM_GROUP.'))
    .map((space) => world.appGroups.get(space.slice('IM_GROUP.'.length)));
  const inGroups = new Set(groups.flatMap((group) => group?.members ?? []));
  const members =
    groups.length > 0
      ? [...inGroups].map((userId) => world.users.get(userId) ?? { userId, name: userId })
      : [...world.users.values()];
  const who = members.length
    ? `<select name="userId">${members.map((user) => `<option value="${escapeHtml(user.userId)}">${escapeHtml(user.name)}</option>`).join('')}</select>`
    : '<input name="userId" placeholder="userId" required>';
  // One form per card: each button posts its own action with the member chosen in the form.
  const form = buttons.length
    ? `<form method="post" action="/_control/cards/${encodeURIComponent(card.outTrackId)}/click">${who}` +
      buttons
        .map(
          (button) =>
            `<button name="action" value="${escapeHtml(JSON.stringify({ actionId: button.actionId, params: button.params }))}">` +
            `${escapeHtml(button.label)}</button>`,
        )
        .join('') +
      '</form>'
    : '';
  const where = card.spaces
    .map((space) => {
      const group = world.appGroups.get(space.slice('IM_GROUP.'.length));
      return escapeHtml(space.startsWith('IM_GROUP.') && group ? `group ${group.name}` : space);
    })
    .join(', ');
  const meta = `card ${escapeHtml(card.outTrackId)} · ${where} · ${card.history.length} version(s)`;
  return `<article><div class="meta">${meta}</div><dl>${data}</dl>${form}</article>`;
}

const remindTypes: Record<number, string> = { 1: 'in-app', 2: 'SMS', 3: 'phone call' };

function renderDing(ding: RecordedDing): string {
  const to = ding.receiverUserIds.map((userId) => `@${escapeHtml(userId)}`).join(' ');
  const meta = `${remindTypes[ding.remindType] ?? ding.remindType} · ${new Date(ding.sentAt).toISOString()}`;
  return `<article><div class="meta">${meta}</div><p>${escapeHtml(ding.content)}</p><div class="mention">${to}</div></article>`;
}
