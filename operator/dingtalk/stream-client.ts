import { type BackoffPolicy, backoffDelay } from '../runtime/backoff.ts';
import type { Logger } from '../runtime/logger.ts';
import { type Clock, systemClock } from '../runtime/timers.ts';
import { checkCardParamMap } from './cards.ts';
import type { StreamSubscription, StreamTicket } from './client.ts';
import {
  type CardCallback,
  type CardCallbackAnswer,
  callbackAck,
  cardCallbackTopic,
  eventAck,
  parseCardCallback,
  parseFrame,
  pingAnswer,
  type StreamFrame,
} from './stream-frames.ts';

/**
 * One DingTalk Stream connection for one enterprise app: how card clicks reach the operator without any
 * inbound route (an outbound WebSocket; no Ingress, DNS name or certificate). Use:
 *
 *   const stream = createStreamClient({
 *     open: (subscriptions) => dingtalk.openStreamConnection(app, subscriptions),
 *     onCardCallback: async (click) => answer,   // {cardParamMap, byKey} or undefined
 *     onEvent: (event) => metrics…, logger,
 *   });
 *   stream.start();  …  stream.status()  →  {connected, connectedSince, lastError, failures, counters}
 *   await stream.close();
 *
 * - Every frame is acknowledged: pings with their own data, events with SUCCESS, callbacks with the
 *   handler's answer. DingTalk counts a callback answered after 2 s as failed, so the handler gets
 *   `answerWithinMs` (1.5 s): an answer in time goes into the acknowledgement and DingTalk updates the
 *   card at once; a slower handler keeps running but the acknowledgement goes without data, and the
 *   handler's caller updates the card itself later (cards.update). A handler that throws is
 *   acknowledged without data too, and counted.
 * - Clicks are not deduplicated: a redelivered callback reaches the handler again (same messageId), as
 *   it may reach another replica's connection anyway; the handler's write must be idempotent.
 * - Reconnects on a close, a failed open, no connection within `connectTimeoutMs`, silence (no frame,
 *   pings included, for `livenessTimeoutMs`) and at once on a SYSTEM disconnect (the old connection
 *   keeps answering until DingTalk closes it). Delays follow backoff.ts, doubling per failure in a row;
 *   the count starts again once a new connection has received a frame.
 * - The ticket and the endpoint URL that carries it are credentials: never logged nor put in errors.
 * - Node's built-in WebSocket: no dependency. It cannot send WebSocket pings, hence liveness is
 *   judged from DingTalk's frames. The socket does not go through HTTPS_PROXY (connections/open does,
 *   as every DingTalk client call): a cluster that reaches DingTalk only through a proxy has no Stream.
 * - Metrics: onEvent → OperatorMetrics.recordStreamEvent, status().connected → observeStream.
 */

export interface StreamSocket {
  send(text: string): void;
  close(code: number, reason: string): void;
}

export interface StreamSocketEvents {
  open(): void;
  message(text: string): void;
  /** After an error too: a WebSocket always ends with close. */
  close(code: number): void;
}

export type ConnectStreamSocket = (url: string, events: StreamSocketEvents) => StreamSocket;

export type CardCallbackHandler = (callback: CardCallback) => Promise<CardCallbackAnswer | undefined>;

/** What a client reports through onEvent and counts in status(). */
export const streamEvents = [
  'opened',
  'openFailed',
  'closed',
  'disconnectRequested',
  'silence',
  'ping',
  'callback',
  'callbackAnswered',
  'callbackLate',
  'callbackFailed',
  'malformed',
] as const;
export type StreamEvent = (typeof streamEvents)[number];

export interface StreamStatus {
  connected: boolean;
  /** Wall-clock ms when the current connection opened. */
  connectedSince: number | undefined;
  /** Why the last connection or attempt ended; safe to show in a condition. */
  lastError: string | undefined;
  /** Failures in a row since a connection last received a frame. */
  failures: number;
  counters: Record<StreamEvent, number>;
}

export interface StreamClient {
  /** Connects, and keeps reconnecting until close(). */
  start(): void;
  status(): StreamStatus;
  /** Closes every connection and stops reconnecting; resolves once they are closed (or after 2 s). */
  close(): Promise<void>;
}

export interface StreamClientOptions {
  /** connections/open for this app: the DingTalk client's openStreamConnection. */
  open(subscriptions: readonly StreamSubscription[]): Promise<StreamTicket>;
  onCardCallback: CardCallbackHandler;
  /** Every event as it happens, for metrics. */
  onEvent?: ((event: StreamEvent) => void) | undefined;
  logger?: Pick<Logger, 'info' | 'warn'> | undefined;
  connect?: ConnectStreamSocket | undefined;
  clock?: Clock | undefined;
  random?: (() => number) | undefined;
  backoff?: BackoffPolicy | undefined;
  livenessTimeoutMs?: number | undefined;
  answerWithinMs?: number | undefined;
  connectTimeoutMs?: number | undefined;
  /** How long a connection DingTalk asked to leave may stay open for callbacks in flight. */
  retiringGraceMs?: number | undefined;
}

export const streamDefaults = {
  backoff: { initialMs: 1_000, maxMs: 60_000, jitter: 0.2 },
  livenessTimeoutMs: 120_000,
  answerWithinMs: 1_500,
  connectTimeoutMs: 15_000,
  retiringGraceMs: 15_000,
};

const closeWaitMs = 2_000;
const subscriptions: readonly StreamSubscription[] = [{ type: 'CALLBACK', topic: cardCallbackTopic }];

interface Session {
  socket?: StreamSocket;
  receivedFrame: boolean;
  closed: boolean;
  onClosed?: () => void;
  /** The connect deadline, then the liveness deadline. */
  cancelTimer?: () => void;
}

/** Node's built-in WebSocket behind the small interface the client needs. */
export const connectWebSocket: ConnectStreamSocket = (url, events) => {
  const socket = new WebSocket(url);
  socket.addEventListener('open', () => events.open());
  socket.addEventListener('message', (event) =>
    events.message(typeof event.data === 'string' ? event.data : ''),
  );
  socket.addEventListener('close', (event) => events.close(event.code));
  return { send: (text) => socket.send(text), close: (code, reason) => socket.close(code, reason) };
};

export function createStreamClient(options: StreamClientOptions): StreamClient {
  const clock = options.clock ?? systemClock;
  const connect = options.connect ?? connectWebSocket;
  const backoff = options.backoff ?? streamDefaults.backoff;
  const livenessTimeoutMs = options.livenessTimeoutMs ?? streamDefaults.livenessTimeoutMs;
  const answerWithinMs = options.answerWithinMs ?? streamDefaults.answerWithinMs;
  const connectTimeoutMs = options.connectTimeoutMs ?? streamDefaults.connectTimeoutMs;
  const retiringGraceMs = options.retiringGraceMs ?? streamDefaults.retiringGraceMs;

  const counters = Object.fromEntries(streamEvents.map((event) => [event, 0])) as Record<StreamEvent, number>;
  let started = false;
  let stopped = false;
  let current: Session | undefined;
  const sessions = new Set<Session>();
  let failures = 0;
  let connectedSince: number | undefined;
  let lastError: string | undefined;
  let cancelRetry: (() => void) | undefined;

  const emit = (event: StreamEvent) => {
    counters[event]++;
    options.onEvent?.(event);
  };

  const send = (session: Session, text: string) => {
    try {
      session.socket?.send(text);
    } catch {
      // The connection is going away; its close event starts the reconnect.
    }
  };

  const arm = (session: Session, ms: number, onExpiry: () => void) => {
    session.cancelTimer?.();
    session.cancelTimer = clock.timer(ms, onExpiry);
  };

  const armLiveness = (session: Session) =>
    arm(session, livenessTimeoutMs, () => {
      emit('silence');
      fail(session, `no frame from DingTalk for ${livenessTimeoutMs} ms`);
    });

  const end = (session: Session, code: number, reason: string) => {
    session.cancelTimer?.();
    session.socket?.close(code, reason);
  };

  /** The current session is over: reconnect after the backoff delay. */
  const fail = (session: Session, reason: string) => {
    if (session !== current) return;
    current = undefined;
    connectedSince = undefined;
    lastError = reason;
    failures++;
    end(session, 4000, 'reconnecting');
    if (stopped) return;
    const delayMs = backoffDelay(failures, backoff, options.random);
    options.logger?.warn({ reason, failures, delayMs }, 'DingTalk Stream connection lost; reconnecting');
    cancelRetry = clock.timer(delayMs, () => void attempt());
  };

  const answerCallback = async (session: Session, frame: StreamFrame) => {
    emit('callback');
    const callback = frame.topic === cardCallbackTopic ? parseCardCallback(frame) : undefined;
    if (!callback) {
      emit('malformed');
      return send(session, callbackAck(frame));
    }
    let cancelBudget = () => {};
    const budget = new Promise<'late'>((resolve) => {
      cancelBudget = clock.timer(answerWithinMs, () => resolve('late'));
    });
    // A handler that throws at once is a failed handler too.
    const handled = Promise.resolve(callback)
      .then(options.onCardCallback)
      .then(
        (answer) => ({ answer }),
        (error: unknown) => ({ error }),
      );
    const result = await Promise.race([handled, budget]);
    cancelBudget();
    if (result === 'late') {
      emit('callbackLate');
      return send(session, callbackAck(frame));
    }
    if ('error' in result) {
      emit('callbackFailed');
      options.logger?.warn(
        { err: result.error, outTrackId: callback.outTrackId },
        'card callback handler failed',
      );
      return send(session, callbackAck(frame));
    }
    try {
      if (result.answer) checkCardParamMap(result.answer.cardParamMap, 'stream.callback');
    } catch (error) {
      emit('callbackFailed');
      options.logger?.warn({ err: error, outTrackId: callback.outTrackId }, 'card callback answer refused');
      return send(session, callbackAck(frame));
    }
    emit('callbackAnswered');
    send(session, callbackAck(frame, result.answer));
  };

  const retire = (session: Session) => {
    emit('disconnectRequested');
    options.logger?.info({}, 'DingTalk asked the Stream connection to reconnect');
    current = undefined;
    connectedSince = undefined;
    arm(session, retiringGraceMs, () => end(session, 1000, 'replaced'));
    void attempt();
  };

  const receive = (session: Session, text: string) => {
    if (session === current) {
      armLiveness(session);
      if (!session.receivedFrame) failures = 0;
    }
    session.receivedFrame = true;
    const frame = parseFrame(text);
    if (!frame) return emit('malformed');
    switch (frame.type) {
      case 'SYSTEM':
        if (frame.topic === 'ping') {
          emit('ping');
          send(session, pingAnswer(frame));
        } else if (frame.topic === 'disconnect' && session === current) retire(session);
        return;
      case 'EVENT':
        return send(session, eventAck(frame));
      case 'CALLBACK':
        return void answerCallback(session, frame);
    }
  };

  const attempt = async () => {
    cancelRetry = undefined;
    if (stopped) return;
    const session: Session = { receivedFrame: false, closed: false };
    current = session;
    sessions.add(session);
    let ticket: StreamTicket;
    try {
      ticket = await options.open(subscriptions);
    } catch (error) {
      sessions.delete(session);
      if (stopped || session !== current) return;
      emit('openFailed');
      return fail(
        session,
        `connections/open failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (stopped || session !== current) return void sessions.delete(session);
    arm(session, connectTimeoutMs, () => fail(session, `no connection within ${connectTimeoutMs} ms`));
    try {
      const url = new URL(ticket.endpoint);
      url.searchParams.set('ticket', ticket.ticket);
      session.socket = connect(url.toString(), {
        open() {
          if (session !== current) return end(session, 1000, 'superseded');
          connectedSince = clock.wallMs();
          lastError = undefined;
          emit('opened');
          options.logger?.info({}, 'DingTalk Stream connected');
          armLiveness(session);
        },
        message: (text) => receive(session, text),
        close(code) {
          session.closed = true;
          session.cancelTimer?.();
          sessions.delete(session);
          session.onClosed?.();
          if (session !== current) return;
          emit('closed');
          fail(session, `connection closed (code ${code})`);
        },
      });
    } catch {
      sessions.delete(session);
      fail(session, 'the Stream endpoint is not a WebSocket URL');
    }
  };

  return {
    start() {
      if (started) return;
      started = true;
      void attempt();
    },

    status: () => ({
      connected: connectedSince !== undefined,
      connectedSince,
      lastError,
      failures,
      counters: { ...counters },
    }),

    async close() {
      stopped = true;
      cancelRetry?.();
      current = undefined;
      connectedSince = undefined;
      const closing = [...sessions].map(
        (session) =>
          new Promise<void>((resolve) => {
            if (session.closed || !session.socket) return resolve();
            session.onClosed = resolve;
            end(session, 1000, 'closing');
          }),
      );
      let cancelWait = () => {};
      const waited = new Promise<void>((resolve) => {
        cancelWait = clock.timer(closeWaitMs, resolve);
      });
      await Promise.race([Promise.all(closing), waited]);
      cancelWait();
    },
  };
}
