import { describe, expect, it } from 'vitest';
import { chunkUserIds, memberMessageOf, toMsgKey } from './member-message.ts';

const users = (count: number) => Array.from({ length: count }, (_, index) => `user${index}`);

describe('chunkUserIds', () => {
  it('splits 45 users into chunks of 20, 20 and 5', () => {
    expect(chunkUserIds(users(45)).map((chunk) => chunk.length)).toEqual([20, 20, 5]);
  });

  it('sends exactly 20 users in one call', () => {
    expect(chunkUserIds(users(20))).toHaveLength(1);
  });

  it('messages a user listed twice only once', () => {
    expect(chunkUserIds(['a', 'b', 'a'])).toEqual([['a', 'b']]);
  });

  it('makes no call for no users', () => {
    expect(chunkUserIds([])).toEqual([]);
  });
});

describe('toMsgKey', () => {
  it('encodes msgParam as a JSON string', () => {
    const { msgKey, msgParam } = toMsgKey({ type: 'markdown', title: 'Disk', text: '**full**' });
    expect(msgKey).toBe('sampleMarkdown');
    expect(JSON.parse(msgParam)).toEqual({ title: 'Disk', text: '**full**' });
  });

  it('maps one button to sampleActionCard', () => {
    const buttons = [{ title: 'Open', actionURL: 'https://a' }];
    const { msgKey, msgParam } = toMsgKey({ type: 'actionCard', title: 't', text: 'x', buttons });
    expect(msgKey).toBe('sampleActionCard');
    expect(JSON.parse(msgParam)).toMatchObject({ singleTitle: 'Open', singleURL: 'https://a' });
  });

  it('maps three buttons to sampleActionCard3 with numbered fields', () => {
    const buttons = ['a', 'b', 'c'].map((title) => ({ title, actionURL: `https://${title}` }));
    const { msgKey, msgParam } = toMsgKey({ type: 'actionCard', title: 't', text: 'x', buttons });
    expect(msgKey).toBe('sampleActionCard3');
    expect(JSON.parse(msgParam)).toMatchObject({ actionTitle3: 'c', actionURL3: 'https://c' });
  });

  it('maps two side-by-side buttons to sampleActionCard6', () => {
    const buttons = ['a', 'b'].map((title) => ({ title, actionURL: `https://${title}` }));
    const message = { type: 'actionCard', title: 't', text: 'x', buttons, buttonsHorizontal: true } as const;
    const { msgKey, msgParam } = toMsgKey(message);
    expect(msgKey).toBe('sampleActionCard6');
    expect(JSON.parse(msgParam)).toMatchObject({ buttonTitle2: 'b', buttonUrl2: 'https://b' });
  });

  it('refuses a message DingTalk cannot show', () => {
    expect(() => toMsgKey({ type: 'text', content: '' })).toThrow(/invalid member message/);
  });
});

describe('memberMessageOf', () => {
  it('keeps a markdown message as markdown', () => {
    expect(memberMessageOf({ type: 'markdown', title: 't', text: 'x' })).toEqual({
      type: 'markdown',
      title: 't',
      text: 'x',
    });
  });

  it('refuses a feedCard, naming the type, instead of sending something else', () => {
    const links = [{ title: 't', messageURL: 'https://a', picURL: 'https://b' }];
    expect(() => memberMessageOf({ type: 'feedCard', links })).toThrow(
      /feedCard message cannot be sent to members/,
    );
  });
});
