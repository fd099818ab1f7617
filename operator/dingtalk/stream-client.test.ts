import { describe, expect, it } from 'vitest';
import { FakeClock, settled } from '../../test/support/fake-clock.ts';
import type { StreamSubscription } from './client.ts';
import { DingTalkError, DingTalkErrorCode } from './errors.ts';
import {
  type CardCallbackHandler,
  createStreamClient,
  type StreamClientOptions,
  type StreamSocketEvents,
} from './stream-client.ts';
import type { CardCallback } from './stream-frames.ts';

/** The Stream client's connection logic on a fake clock, against sockets the test plays DingTalk on. */

class FakeSocket {
  sent: Record<string, unknown>[] = [];
  closedWith: number | undefined;
  readonly url: string;
  readonly events: StreamSocketEvents;
  constructor(url: string, events: StreamSocketEvents) {
    this.url = url;
    this.events = events;
  }
  send(text: string) {
    this.sent.push(JSON.parse(text));
  }
  close(code: number) {
    if (this.closedWith !== undefined) return;
    this.closedWith = code;
    queueMicrotask(() => this.events.close(code));
  }
  /** DingTalk sends a frame. */
  frame(type: string, topic: string, data: unknown, messageId = `m${Math.random()}`) {
    const headers = {
      appId: 'a',
      connectionId: 'c',
      contentType: 'application/json',
      messageId,
      time: '0',
      topic,
    };
    const text = typeof data === 'string' ? data : JSON.stringify(data);
    this.events.message(JSON.stringify({ specVersion: '1.0', type, headers, data: text }));
    return messageId;
  }
  /** The acknowledgement of a frame, its data decoded. */
  ackOf(messageId: string) {
    const ack = this.sent.find((sent) => (sent.headers as { messageId: string }).messageId === messageId);
    return ack && { ...ack, data: JSON.parse(ack.data as string) };
  }
}

const click = (outTrackId = 'ae-1', userId = 'alice') => ({
  outTrackId,
  userId,
  content: JSON.stringify({ cardPrivateData: { actionIds: ['ack'], params: { action: 'acknowledge' } } }),
});
const cardTopic = '/v1.0/card/instances/callback';

function setup(overrides: Partial<StreamClientOptions> = {}) {
  const clock = new FakeClock(1_000_000);
  const sockets: FakeSocket[] = [];
  const opens: (readonly StreamSubscription[])[] = [];
  const callbacks: CardCallback[] = [];
  let openResult: () => Promise<{ endpoint: string; ticket: string }> = async () => ({
    endpoint: 'wss://gateway.test/connect',
    ticket: `ticket-${opens.length}`,
  });
  const handler: CardCallbackHandler = async (callback) => {
    callbacks.push(callback);
    return { cardParamMap: { status: `acknowledged by ${callback.userId}` } };
  };
  const client = createStreamClient({
    open: (subscriptions) => {
      opens.push(subscriptions);
      return openResult();
    },
    onCardCallback: handler,
    connect: (url, events) => {
      const socket = new FakeSocket(url, events);
      sockets.push(socket);
      return socket;
    },
    clock,
    random: () => 0.5,
    backoff: { initialMs: 1_000, maxMs: 8_000, jitter: 0.2 },
    livenessTimeoutMs: 60_000,
    answerWithinMs: 1_500,
    connectTimeoutMs: 10_000,
    retiringGraceMs: 5_000,
    ...overrides,
  });
  const last = () => sockets[sockets.length - 1] as FakeSocket;
  /** Starts the client and lets DingTalk accept the connection. */
  const connected = async () => {
    client.start();
    await settled();
    last().events.open();
  };
  return {
    clock,
    client,
    sockets,
    opens,
    callbacks,
    last,
    connected,
    failOpensWith(error: Error) {
      openResult = async () => {
        throw error;
      };
    },
  };
}

describe('Stream client: connecting', () => {
  it('subscribes to card callbacks only and connects with the ticket', async () => {
    const { client, opens, last, connected } = setup();
    await connected();
    expect(opens).toEqual([[{ type: 'CALLBACK', topic: cardTopic }]]);
    expect(last().url).toBe('wss://gateway.test/connect?ticket=ticket-1');
    expect(client.status()).toMatchObject({ connected: true, connectedSince: 1_000_000, failures: 0 });
  });

  it('answers a ping with its data and acknowledges events', async () => {
    const { client, last, connected } = setup();
    await connected();
    const ping = last().frame('SYSTEM', 'ping', { opaque: 'x1' });
    expect(last().ackOf(ping)).toMatchObject({ code: 200, data: { opaque: 'x1' } });
    const event = last().frame('EVENT', 'chat_update_title', {});
    expect(last().ackOf(event)).toMatchObject({ code: 200, data: { status: 'SUCCESS' } });
    expect(client.status().counters.ping).toBe(1);
  });
});

describe('Stream client: card callbacks', () => {
  it('hands the click to the handler and puts its answer into the acknowledgement', async () => {
    const { callbacks, last, connected } = setup();
    await connected();
    const id = last().frame('CALLBACK', cardTopic, click());
    await settled();
    expect(callbacks).toEqual([
      {
        messageId: id,
        outTrackId: 'ae-1',
        userId: 'alice',
        actionIds: ['ack'],
        params: { action: 'acknowledge' },
      },
    ]);
    expect(last().ackOf(id)?.data).toEqual({
      response: {
        cardData: { cardParamMap: { status: 'acknowledged by alice' } },
        cardUpdateOptions: { updateCardDataByKey: false },
      },
    });
  });

  it('passes a redelivered click to the handler again', async () => {
    const { callbacks, last, connected } = setup();
    await connected();
    last().frame('CALLBACK', cardTopic, click(), 'same');
    last().frame('CALLBACK', cardTopic, click(), 'same');
    await settled();
    expect(callbacks.map((callback) => callback.messageId)).toEqual(['same', 'same']);
  });

  it('acknowledges without data when the handler takes longer than its budget, and only once', async () => {
    let finish: (() => void) | undefined;
    const { client, clock, last, connected } = setup({
      onCardCallback: () =>
        new Promise((resolve) => {
          finish = () => resolve({ cardParamMap: { status: 'late' } });
        }),
    });
    await connected();
    const id = last().frame('CALLBACK', cardTopic, click());
    await clock.advance(1_499);
    expect(last().ackOf(id)).toBeUndefined();
    await clock.advance(1);
    expect(last().ackOf(id)?.data).toEqual({ response: {} });
    finish?.();
    await settled();
    expect(
      last().sent.filter((sent) => (sent.headers as { messageId: string }).messageId === id),
    ).toHaveLength(1);
    expect(client.status().counters).toMatchObject({ callbackLate: 1, callbackAnswered: 0 });
  });

  it('acknowledges without data when the handler fails, answers too large, or the click is malformed', async () => {
    // Thrown at once, not rejected: still a failed handler.
    let answer: () => Promise<{ cardParamMap: Record<string, string> }> = () => {
      throw new Error('kube down');
    };
    const { client, last, connected } = setup({ onCardCallback: () => answer() });
    await connected();
    const failed = last().frame('CALLBACK', cardTopic, click());
    await settled();
    answer = async () => ({ cardParamMap: { note: 'x'.repeat(1025) } });
    const tooLarge = last().frame('CALLBACK', cardTopic, click());
    await settled();
    const malformed = last().frame('CALLBACK', cardTopic, { userId: 'alice' });
    await settled();
    for (const id of [failed, tooLarge, malformed]) expect(last().ackOf(id)?.data).toEqual({ response: {} });
    expect(client.status().counters).toMatchObject({ callbackFailed: 2, malformed: 1 });
  });
});

describe('Stream client: reconnecting', () => {
  it('reconnects after a close with delays doubling per failure, back to the first once a frame arrives', async () => {
    const { client, clock, sockets, last, connected } = setup({
      backoff: { initialMs: 1_000, maxMs: 8_000 },
    });
    await connected();
    for (const expected of [1_000, 2_000, 4_000]) {
      last().close(1006);
      await settled();
      expect(clock.pending()).toContain(expected);
      await clock.advance(expected);
      last().events.open();
    }
    expect(sockets).toHaveLength(4);
    expect(client.status()).toMatchObject({ connected: true, failures: 3, lastError: undefined });
    last().frame('SYSTEM', 'ping', {});
    last().close(1006);
    await settled();
    expect(clock.pending()).toContain(1_000);
    expect(client.status()).toMatchObject({ connected: false, lastError: 'connection closed (code 1006)' });
  });

  it('retries a refused connections/open with backoff, keeping the reason and no ticket', async () => {
    const { client, clock, opens, failOpensWith } = setup({ backoff: { initialMs: 1_000, maxMs: 8_000 } });
    failOpensWith(
      new DingTalkError('gateway.connectionsOpen: unexpected HTTP status 503', {
        code: DingTalkErrorCode.httpStatus,
        errorClass: 'transient',
        endpoint: 'gateway.connectionsOpen',
      }),
    );
    client.start();
    await settled();
    await clock.advance(1_000);
    await clock.advance(2_000);
    expect(opens).toHaveLength(3);
    expect(client.status()).toMatchObject({
      connected: false,
      failures: 3,
      lastError: 'connections/open failed: gateway.connectionsOpen: unexpected HTTP status 503',
    });
    expect(client.status().counters.openFailed).toBe(3);
  });

  it('reconnects when DingTalk stays silent, and not while pings keep coming', async () => {
    const { client, clock, sockets, last, connected } = setup();
    await connected();
    for (let minute = 0; minute < 3; minute++) {
      await clock.advance(50_000);
      last().frame('SYSTEM', 'ping', {});
    }
    expect(sockets).toHaveLength(1);
    await clock.advance(60_000);
    expect(sockets[0]?.closedWith).toBe(4000);
    expect(client.status()).toMatchObject({ connected: false, counters: { silence: 1 } });
    await clock.advance(1_200);
    expect(sockets).toHaveLength(2);
  });

  it('retries when connections/open names no usable endpoint', async () => {
    const { client, sockets } = setup({ open: async () => ({ endpoint: 'not a url', ticket: 't' }) });
    client.start();
    await settled();
    expect(client.status()).toMatchObject({
      failures: 1,
      lastError: 'the Stream endpoint is not a WebSocket URL',
    });
    expect(sockets).toHaveLength(0);
  });

  it('gives up on a connection that does not open in time', async () => {
    const { client, clock, sockets } = setup();
    client.start();
    await settled();
    await clock.advance(10_000);
    expect(sockets[0]?.closedWith).toBe(4000);
    expect(client.status().lastError).toBe('no connection within 10000 ms');
  });

  it('opens a new connection at once on a disconnect frame; the old one answers until it goes', async () => {
    const { client, clock, sockets, opens, connected } = setup();
    await connected();
    const old = sockets[0] as FakeSocket;
    old.frame('SYSTEM', 'disconnect', { reason: 'persistent connection is timeout' });
    await settled();
    expect(opens).toHaveLength(2);
    sockets[1]?.events.open();
    expect(client.status()).toMatchObject({
      connected: true,
      failures: 0,
      counters: { disconnectRequested: 1 },
    });
    const ping = old.frame('SYSTEM', 'ping', { opaque: 'still here' });
    expect(old.ackOf(ping)?.data).toEqual({ opaque: 'still here' });
    await clock.advance(5_000);
    expect(old.closedWith).toBe(1000);
    await settled();
    expect(sockets).toHaveLength(2);
    expect(client.status().connected).toBe(true);
  });

  it('closes cleanly: every connection closed, no reconnect after', async () => {
    const { client, clock, sockets, connected } = setup();
    await connected();
    await client.close();
    expect(sockets[0]?.closedWith).toBe(1000);
    await clock.advance(120_000);
    expect(sockets).toHaveLength(1);
    expect(client.status().connected).toBe(false);
  });
});
