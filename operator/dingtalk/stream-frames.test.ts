import { describe, expect, it } from 'vitest';
import { callbackAck, parseCardCallback, parseFrame, pingAnswer, type StreamFrame } from './stream-frames.ts';

const frame = (data: unknown, topic = '/v1.0/card/instances/callback'): StreamFrame => ({
  type: 'CALLBACK',
  topic,
  messageId: 'm1',
  data: typeof data === 'string' ? data : JSON.stringify(data),
});

describe('Stream frames', () => {
  it('reads a frame with headers beyond the ones used, and refuses anything else', () => {
    const text = JSON.stringify({
      specVersion: '1.0',
      type: 'SYSTEM',
      headers: {
        appId: 'a',
        connectionId: 'c',
        contentType: 'application/json',
        messageId: 'm1',
        time: '1',
        topic: 'ping',
      },
      data: '{"opaque":"x"}',
    });
    expect(parseFrame(text)).toEqual({
      type: 'SYSTEM',
      topic: 'ping',
      messageId: 'm1',
      data: '{"opaque":"x"}',
    });
    expect(parseFrame('{"type":"OTHER","headers":{"topic":"t","messageId":"m"}}')).toBeUndefined();
    expect(parseFrame('not json')).toBeUndefined();
  });

  it('answers a ping with its own data under its messageId', () => {
    const ping: StreamFrame = { type: 'SYSTEM', topic: 'ping', messageId: 'p1', data: '{"opaque":"x"}' };
    expect(JSON.parse(pingAnswer(ping))).toEqual({
      code: 200,
      headers: { contentType: 'application/json', messageId: 'p1' },
      message: 'OK',
      data: '{"opaque":"x"}',
    });
  });

  it('reads a click, the button params defaulting to none', () => {
    const content = JSON.stringify({
      cardPrivateData: { actionIds: ['ack'], params: { action: 'acknowledge' } },
    });
    expect(
      parseCardCallback(frame({ outTrackId: 'ae-1', userId: 'alice', content, corpId: 'ding1' })),
    ).toEqual({
      messageId: 'm1',
      outTrackId: 'ae-1',
      userId: 'alice',
      actionIds: ['ack'],
      params: { action: 'acknowledge' },
    });
    expect(parseCardCallback(frame({ outTrackId: 'ae-1', userId: 'alice', content: '{}' }))).toMatchObject({
      actionIds: [],
      params: {},
    });
  });

  it('refuses a click without its card, its member or readable content', () => {
    expect(parseCardCallback(frame({ userId: 'alice', content: '{}' }))).toBeUndefined();
    expect(parseCardCallback(frame({ outTrackId: 'ae-1', content: '{}' }))).toBeUndefined();
    expect(parseCardCallback(frame({ outTrackId: 'ae-1', userId: 'alice', content: '{' }))).toBeUndefined();
    expect(parseCardCallback(frame('['))).toBeUndefined();
  });

  it('puts an answer into the acknowledgement as DingTalk reads it, and nothing without one', () => {
    const ack = JSON.parse(callbackAck(frame({}), { cardParamMap: { status: 'acknowledged' }, byKey: true }));
    expect(JSON.parse(ack.data)).toEqual({
      response: {
        cardData: { cardParamMap: { status: 'acknowledged' } },
        cardUpdateOptions: { updateCardDataByKey: true },
      },
    });
    expect(JSON.parse(JSON.parse(callbackAck(frame({}))).data)).toEqual({ response: {} });
  });
});
