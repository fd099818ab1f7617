import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { z } from 'zod';
import { type ApiAnswer, apiError } from './app-api.ts';
import type { World } from './world.ts';

/**
 * DingTalk's Stream mode gateway (dingtalk-2026.md §3.4): `connections/open` trades the app's
 * credentials for a one-time ticket and the WebSocket endpoint; on the socket the gateway sends frames
 * `{specVersion, type: SYSTEM|EVENT|CALLBACK, headers, data}` and the client acknowledges each with
 * `{code, headers: {contentType, messageId}, message, data}`. SYSTEM `ping` is answered with the ping's
 * data; SYSTEM `disconnect` tells the client to open a new connection before this one closes.
 * Tests and the page drive it through the control API: pings, disconnects, dropped connections and
 * card clicks (card-click.ts), each on the connections of one app.
 */

export const connectPath = '/connect';

export interface StreamGatewayOptions {
  /** How often each connection is sent a SYSTEM ping. */
  pingIntervalMs: number;
  /** How long a frame's acknowledgement may take: DingTalk gives a card callback 2 s. */
  answerDeadlineMs: number;
  /** Between a SYSTEM disconnect and closing the connection. */
  disconnectGraceMs: number;
  ticketLifetimeMs: number;
}

export const defaultStreamGatewayOptions: StreamGatewayOptions = {
  pingIntervalMs: 30_000,
  answerDeadlineMs: 2_000,
  disconnectGraceMs: 10_000,
  ticketLifetimeMs: 90_000,
};

export interface Ack {
  code: number;
  message: string;
  data: string;
}

/** What became of one frame sent on a connection. */
export type FrameOutcome = { outcome: 'answered'; ack: Ack } | { outcome: 'late' | 'closed' };

interface Connection {
  id: string;
  clientId: string;
  subscriptions: { type: string; topic: string }[];
  socket: WebSocket;
  openedAt: number;
  /** A SYSTEM disconnect was sent: no new callbacks go to it. */
  disconnecting: boolean;
  pingsAnswered: number;
  pending: Map<string, (outcome: FrameOutcome) => void>;
  timers: Set<NodeJS.Timeout>;
}

const openSchema = z.object({
  clientId: z.string().optional(),
  clientSecret: z.string().optional(),
  subscriptions: z.array(z.object({ type: z.string(), topic: z.string() })).optional(),
});

const ackSchema = z.object({
  code: z.number(),
  headers: z.object({ messageId: z.string() }),
  message: z.string().default(''),
  data: z.string().default(''),
});

export type StreamGateway = ReturnType<typeof createStreamGateway>;

export function createStreamGateway(world: World, options: StreamGatewayOptions) {
  const tickets = new Map<
    string,
    { clientId: string; subscriptions: Connection['subscriptions']; expiresAt: number }
  >();
  const connections = new Map<string, Connection>();
  const server = new WebSocketServer({ noServer: true });

  /** Runs `action` after `ms` unless the connection closes first; the returned function cancels it. */
  const after = (connection: Connection, ms: number, action: () => void) => {
    const timer = setTimeout(() => {
      connection.timers.delete(timer);
      action();
    }, ms);
    connection.timers.add(timer);
    return () => {
      clearTimeout(timer);
      connection.timers.delete(timer);
    };
  };

  /** Sends a frame and waits for its acknowledgement until the deadline. */
  const send = (
    connection: Connection,
    type: 'SYSTEM' | 'EVENT' | 'CALLBACK',
    topic: string,
    data: string,
    messageId: string = randomUUID(),
  ): Promise<FrameOutcome> =>
    new Promise((resolve) => {
      if (connection.socket.readyState !== connection.socket.OPEN) return resolve({ outcome: 'closed' });
      let cancelDeadline = () => {};
      const settle = (outcome: FrameOutcome) => {
        if (connection.pending.get(messageId) !== settle) return;
        connection.pending.delete(messageId);
        cancelDeadline();
        resolve(outcome);
      };
      connection.pending.set(messageId, settle);
      cancelDeadline = after(connection, options.answerDeadlineMs, () => settle({ outcome: 'late' }));
      const headers = {
        appId: connection.clientId,
        connectionId: connection.id,
        contentType: 'application/json',
        messageId,
        time: String(world.clock.now()),
        topic,
      };
      connection.socket.send(JSON.stringify({ specVersion: '1.0', type, headers, data }));
    });

  const ping = async (connection: Connection) => {
    const data = JSON.stringify({ opaque: randomUUID() });
    const result = await send(connection, 'SYSTEM', 'ping', data);
    const answered = result.outcome === 'answered' && result.ack.data === data;
    if (answered) connection.pingsAnswered++;
    return answered;
  };

  const schedulePings = (connection: Connection) =>
    after(connection, options.pingIntervalMs, () => {
      void ping(connection);
      schedulePings(connection);
    });

  const accept = (socket: WebSocket, clientId: string, subscriptions: Connection['subscriptions']) => {
    const connection: Connection = {
      id: randomUUID(),
      clientId,
      subscriptions,
      socket,
      openedAt: world.clock.now(),
      disconnecting: false,
      pingsAnswered: 0,
      pending: new Map(),
      timers: new Set(),
    };
    connections.set(connection.id, connection);
    socket.on('message', (raw) => {
      const ack = ackSchema.safeParse(parseJson(raw.toString()));
      if (ack.success)
        connection.pending.get(ack.data.headers.messageId)?.({ outcome: 'answered', ack: ack.data });
    });
    socket.on('close', () => {
      connections.delete(connection.id);
      for (const timer of connection.timers) clearTimeout(timer);
      for (const settle of [...connection.pending.values()]) settle({ outcome: 'closed' });
    });
    schedulePings(connection);
  };

  const ofApp = (clientId: string | undefined) =>
    [...connections.values()].filter(
      (connection) => clientId === undefined || connection.clientId === clientId,
    );

  const nextCallbackTarget = new Map<string, number>();

  return {
    /** POST /v1.0/gateway/connections/open; `endpoint` is this emulator's WebSocket URL. */
    open(body: unknown, host: string): ApiAnswer {
      const request = openSchema.safeParse(body);
      const clientId = request.success ? request.data.clientId : undefined;
      if (clientId) world.count(world.stats.streamOpens, clientId);
      const app = clientId === undefined ? undefined : world.apps.get(clientId);
      if (!request.success || !app || app.clientSecret !== request.data.clientSecret) {
        return apiError(400, 'invalidClientIdOrSecret', '无效的clientId或者clientSecret');
      }
      const subscriptions = request.data.subscriptions ?? [];
      if (subscriptions.length === 0) {
        return apiError(400, 'invalidParameter.subscriptions.empty', 'subscriptions is empty');
      }
      const ticket = randomBytes(16).toString('hex');
      tickets.set(ticket, {
        clientId: app.clientId,
        subscriptions,
        expiresAt: world.clock.now() + options.ticketLifetimeMs,
      });
      return { status: 200, body: { endpoint: `ws://${host}${connectPath}`, ticket } };
    },

    /** The HTTP server's upgrade listener: a connection is accepted once per unexpired ticket. */
    upgrade(request: IncomingMessage, socket: Duplex, head: Buffer) {
      const url = new URL(request.url ?? '/', 'http://emulator');
      const ticket = tickets.get(url.searchParams.get('ticket') ?? '');
      if (url.pathname !== connectPath || !ticket || ticket.expiresAt <= world.clock.now()) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
        return;
      }
      tickets.delete(url.searchParams.get('ticket') ?? '');
      server.handleUpgrade(request, socket, head, (websocket) =>
        accept(websocket, ticket.clientId, ticket.subscriptions),
      );
    },

    list(clientId?: string) {
      return ofApp(clientId).map(
        ({ id, clientId, subscriptions, openedAt, disconnecting, pingsAnswered }) => ({
          id,
          clientId,
          subscriptions,
          openedAt,
          disconnecting,
          pingsAnswered,
        }),
      );
    },

    /** Pings every connection of the app now; true for each that answered with the ping's data. */
    pingNow(clientId?: string) {
      return Promise.all(
        ofApp(clientId).map(async (connection) => ({ id: connection.id, answered: await ping(connection) })),
      );
    },

    /** SYSTEM disconnect to every connection of the app, each closed after the grace period. */
    disconnect(clientId?: string): number {
      const targets = ofApp(clientId).filter((connection) => !connection.disconnecting);
      for (const connection of targets) {
        connection.disconnecting = true;
        void send(
          connection,
          'SYSTEM',
          'disconnect',
          JSON.stringify({ reason: 'persistent connection is timeout' }),
        );
        after(connection, options.disconnectGraceMs, () => connection.socket.close(1000, 'disconnect'));
      }
      return targets.length;
    },

    /** Ends the app's connections without a word, as a broken network would. */
    drop(clientId?: string): number {
      const targets = ofApp(clientId);
      for (const connection of targets) connection.socket.terminate();
      return targets.length;
    },

    /**
     * Sends a CALLBACK frame to one connection of the app subscribed to the topic, taking them in turn
     * so several clients each get some; undefined when none is open.
     */
    async callback(clientId: string, topic: string, data: string, messageId: string) {
      const eligible = ofApp(clientId).filter(
        (connection) =>
          !connection.disconnecting &&
          connection.subscriptions.some(
            (subscription) => subscription.type === 'CALLBACK' && subscription.topic === topic,
          ),
      );
      if (eligible.length === 0) return undefined;
      const turn = nextCallbackTarget.get(clientId) ?? 0;
      nextCallbackTarget.set(clientId, turn + 1);
      const connection = eligible[turn % eligible.length] as Connection;
      return { connectionId: connection.id, ...(await send(connection, 'CALLBACK', topic, data, messageId)) };
    },

    close() {
      for (const connection of connections.values()) connection.socket.terminate();
      server.close();
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
