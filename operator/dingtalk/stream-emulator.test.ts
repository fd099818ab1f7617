import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../../test/emulator/server.ts';
import { createDingTalkClient, type DingTalkClient } from './client.ts';
import {
  type CardCallbackHandler,
  createStreamClient,
  type StreamClient,
  type StreamEvent,
} from './stream-client.ts';
import type { CardCallback } from './stream-frames.ts';

/**
 * The Stream client against the emulator's gateway over real WebSockets: the click on a card travels
 * from the emulator's control API through the gateway to the handler and back into the card. Waits are
 * for the client's events, never for time.
 */

const app = { clientId: 'app1', clientSecret: 'secret' };

describe('Stream client against the emulator', () => {
  let emulator: RunningEmulator;
  let dingtalk: DingTalkClient;
  const clients: StreamClient[] = [];

  beforeAll(async () => {
    emulator = await startEmulator({ stream: { disconnectGraceMs: 100 } });
    dingtalk = createDingTalkClient({ apiBaseUrl: emulator.url, oapiBaseUrl: emulator.url });
  });
  beforeEach(async () => {
    await emulator.control.reset();
    await emulator.control.putApp('app1', { clientSecret: 'secret' });
    await emulator.control.putUser('alice', { name: 'Alice' });
    await dingtalk.cards.createAndDeliver(app, {
      outTrackId: 'ae-1',
      cardTemplateId: 'tpl',
      cardParamMap: { status: 'firing' },
      userIds: ['alice'],
    });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await dingtalk.close();
    await emulator.close();
  });

  const acknowledge: CardCallbackHandler = async (callback) => ({
    cardParamMap: { status: `acknowledged by ${callback.userId}` },
  });

  /** A started client, and a way to wait for its next event of a kind. */
  function stream(onCardCallback: CardCallbackHandler = acknowledge, answerWithinMs?: number) {
    const waiters: { event: StreamEvent; resolve: () => void }[] = [];
    const client = createStreamClient({
      open: (subscriptions) => dingtalk.openStreamConnection(app, subscriptions),
      onCardCallback,
      onEvent(event) {
        for (const waiter of waiters.filter((candidate) => candidate.event === event)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      },
      backoff: { initialMs: 20, maxMs: 200 },
      answerWithinMs,
    });
    clients.push(client);
    const next = (event: StreamEvent) => new Promise<void>((resolve) => waiters.push({ event, resolve }));
    const opened = next('opened');
    client.start();
    return { client, next, opened };
  }

  const card = async () => (await emulator.control.cards())[0];

  it('connects and answers the gateway ping', async () => {
    const { client, opened } = stream();
    await opened;
    expect(client.status().connected).toBe(true);
    expect(await emulator.control.pingStream('app1')).toMatchObject([{ answered: true }]);
  });

  it('turns a click into the handler call and the card update DingTalk applies', async () => {
    const seen: CardCallback[] = [];
    const { opened } = stream(async (callback) => {
      seen.push(callback);
      return acknowledge(callback);
    });
    await opened;
    const report = await emulator.control.click('ae-1', {
      userId: 'alice',
      actionIds: ['ack'],
      params: { a: 1 },
    });
    expect(report.deliveries).toMatchObject([{ outcome: 'answered', applied: true }]);
    expect(seen).toMatchObject([
      { outTrackId: 'ae-1', userId: 'alice', actionIds: ['ack'], params: { a: 1 } },
    ]);
    expect((await card())?.cardParamMap).toEqual({ status: 'acknowledged by alice' });
  });

  it('hands a duplicated callback to the handler twice', async () => {
    const seen: CardCallback[] = [];
    const { opened } = stream(async (callback) => {
      seen.push(callback);
      return acknowledge(callback);
    });
    await opened;
    const report = await emulator.control.click('ae-1', { userId: 'alice', deliveries: 2 });
    expect(report.deliveries.map((delivery) => delivery.outcome)).toEqual(['answered', 'answered']);
    expect(seen).toHaveLength(2);
    expect(seen[0]?.messageId).toBe(seen[1]?.messageId);
  });

  it('answers in time without data when the handler is slow; the card is updated afterwards', async () => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { client, opened } = stream(async (callback) => {
      await released;
      return acknowledge(callback);
    }, 100);
    await opened;
    const report = await emulator.control.click('ae-1', { userId: 'alice' });
    expect(report.deliveries).toMatchObject([{ outcome: 'answered', answer: {}, applied: false }]);
    expect(client.status().counters.callbackLate).toBe(1);
    release();
    await dingtalk.cards.update(app, {
      outTrackId: 'ae-1',
      cardParamMap: { status: 'acknowledged by alice' },
    });
    expect((await card())?.history.map((version) => version.by)).toEqual(['create', 'update']);
  });

  it('reconnects after a disconnect frame, and clicks reach the new connection', async () => {
    const { client, next, opened } = stream();
    await opened;
    const reopened = next('opened');
    await emulator.control.disconnectStream('app1');
    await reopened;
    expect(client.status().counters.disconnectRequested).toBe(1);
    const report = await emulator.control.click('ae-1', { userId: 'alice' });
    expect(report.deliveries).toMatchObject([{ outcome: 'answered', applied: true }]);
  });

  it('reconnects with backoff after the connection drops', async () => {
    const { client, next, opened } = stream();
    await opened;
    const closed = next('closed');
    const reopened = next('opened');
    await emulator.control.dropStream('app1');
    await closed;
    await reopened;
    expect(client.status()).toMatchObject({ connected: true, counters: { closed: 1, opened: 2 } });
    expect(await emulator.control.streamConnections('app1')).toHaveLength(1);
  });

  it('keeps trying when connections/open is refused', async () => {
    await emulator.control.setFault({ app: 'app1' }, { kind: 'status', status: 503, times: 2 });
    const { client, opened } = stream();
    await opened;
    expect(client.status().counters.openFailed).toBe(2);
    expect(client.status().connected).toBe(true);
  });
});
