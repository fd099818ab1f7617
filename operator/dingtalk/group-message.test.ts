import { describe, expect, it } from 'vitest';
import { buildGroupBody, type GroupMessage } from './group-message.ts';
import { byteLength, maxBodyBytes } from './trim.ts';

const build = (message: GroupMessage, keywords: string[] = []) => {
  const body = buildGroupBody(message, { keywords, msgUuid: 'uuid-1' });
  return { ...body, json: JSON.parse(body.serialized) };
};

describe('buildGroupBody', () => {
  it('carries the msgUuid', () => {
    expect(build({ type: 'text', content: 'hi' }).json.msgUuid).toBe('uuid-1');
  });

  it('adds the first keyword when the text has none', () => {
    expect(build({ type: 'text', content: 'disk full' }, ['alarm', 'alert']).json.text.content).toBe(
      'disk full\nalarm',
    );
  });

  it('leaves the text alone when it already has a keyword', () => {
    expect(
      build({ type: 'text', content: 'an alert: disk full' }, ['alarm', 'alert']).json.text.content,
    ).toBe('an alert: disk full');
  });

  it('adds @mobile and @userId text that the mention needs, once', () => {
    const { json } = build({
      type: 'markdown',
      title: 'Disk',
      text: 'disk full @13800000000',
      mentions: { mobiles: ['13800000000'], userIds: ['zhangsan'] },
    });
    expect(json.markdown.text).toBe('disk full @13800000000\n\n@zhangsan');
    expect(json.at).toEqual({ atMobiles: ['13800000000'], atUserIds: ['zhangsan'], isAtAll: false });
  });

  it('uses singleTitle/singleURL for one button and btns for several', () => {
    const one = build({
      type: 'actionCard',
      title: 't',
      text: 'x',
      buttons: [{ title: 'Open', actionURL: 'u' }],
    });
    expect(one.json.actionCard).toMatchObject({ singleTitle: 'Open', singleURL: 'u' });
    const buttons = [
      { title: 'A', actionURL: 'a' },
      { title: 'B', actionURL: 'b' },
    ];
    const two = build({ type: 'actionCard', title: 't', text: 'x', buttons, buttonsHorizontal: true });
    expect(two.json.actionCard).toMatchObject({ btns: buttons, btnOrientation: '1' });
  });

  it('puts the keyword into the first title of a feed card', () => {
    const links = [{ title: 'Grafana', messageURL: 'https://g', picURL: 'https://p' }];
    expect(build({ type: 'feedCard', links }, ['alarm']).json.feedCard.links[0].title).toBe('Grafana alarm');
  });

  it('trims an oversize message but keeps its mentions and keyword', () => {
    const { json, serialized, trimmed } = build(
      { type: 'text', content: '告'.repeat(10_000), mentions: { mobiles: ['13800000000'] } },
      ['alarm'],
    );
    expect(trimmed).toBe(true);
    expect(byteLength(serialized)).toBeLessThanOrEqual(maxBodyBytes);
    expect(json.text.content).toMatch(/\(truncated\)\n@13800000000\nalarm$/);
  });

  it('refuses a message with a missing field', () => {
    expect(() => build({ type: 'link', title: 't', text: 'x' } as unknown as GroupMessage)).toThrow(
      /invalid group message/,
    );
  });
});
