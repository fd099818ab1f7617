import type { Logger } from 'pino';
import {
  createStreamClient,
  type StreamClient,
  type StreamEvent,
  type StreamStatus,
} from '../dingtalk/stream-client.ts';
import { type CustomObject, cachesSynced, type OperatorContext } from '../manager/context.ts';
import { CONFIGURATION_BURST_MS, Coalesced } from '../runtime/coalesced.ts';
import { cacheReader, resolveMemberApp, serviceSpec } from '../targets/index.ts';
import type { CardClicks } from './card-clicks.ts';
import { digest } from './notification.ts';

interface Connection {
  clientId: string;
  client: StreamClient;
  /** The services (namespace/name) whose cards come back over it. */
  services: Set<string>;
}

/** The events after which a connection's status (StreamConnected) may read otherwise. */
const CONNECTION_CHANGES = new Set<StreamEvent>([
  'opened',
  'openFailed',
  'closed',
  'disconnectRequested',
  'silence',
]);

/** How often the connections are brought in line with the services, beside every service change. */
const FOLLOW_INTERVAL_MS = 10_000;

/**
 * The DingTalk Stream connections card clicks come back over, on every replica (DingTalk hands a click
 * to any open connection of the card's app): one per distinct app credential that a DingTalkService
 * with a card template (spec.member.cardTemplateId) uses, in whatever namespace, as DingTalk expects
 * one connection per app. Sharing a connection shares nothing else: a click acts only on an event whose
 * own ledger derives the card's outTrackId, through a service of that event's namespace using this app
 * (card-clicks.ts). Follows the services and their Secrets; a rotated secret opens a new connection.
 */
export class StreamConnections {
  readonly #ctx: OperatorContext;
  readonly #clicks: CardClicks;
  readonly #log: Logger;
  /** By clientId and a digest of the secret: the secret itself is never a key. */
  readonly #connections = new Map<string, Connection>();
  readonly #listeners = new Set<(namespace: string, service: string) => void>();
  #unsubscribe: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** Each connection follows its services and Secrets once per burst of their changes. */
  readonly #followSoon = new Coalesced(() => this.#follow(), CONFIGURATION_BURST_MS);
  #stopped = false;

  constructor(ctx: OperatorContext, clicks: CardClicks) {
    this.#ctx = ctx;
    this.#clicks = clicks;
    this.#log = ctx.logger.child({ component: 'stream-connections' });
  }

  async start(signal: AbortSignal): Promise<void> {
    const { caches } = this.#ctx;
    await cachesSynced(
      [caches.services, caches.secrets, caches.configMaps, caches.rules, caches.alarms],
      signal,
    );
    if (signal.aborted || this.#stopped) return;
    for (const informer of caches.services.informers)
      this.#unsubscribe.push(informer.onEvent(() => this.#followSoon.request()));
    for (const informer of caches.secrets.informers)
      this.#unsubscribe.push(informer.onEvent(() => this.#followSoon.request()));
    this.#timer = setInterval(() => this.#follow(), FOLLOW_INTERVAL_MS);
    this.#timer.unref();
    this.#follow();
  }

  /** The connection status of the app a service's cards use; undefined when it keeps none. */
  statusOf(namespace: string, service: string): StreamStatus | undefined {
    for (const connection of this.#connections.values())
      if (connection.services.has(`${namespace}/${service}`)) return connection.client.status();
    return undefined;
  }

  /** Calls `listener` for each service of a connection that opened, closed, or came or went. */
  onChange(listener: (namespace: string, service: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#followSoon.stop();
    clearInterval(this.#timer);
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    const closing = [...this.#connections.values()].map((c) => this.#close(c));
    this.#connections.clear();
    await Promise.all(closing);
    await this.#clicks.stop();
  }

  #follow(): void {
    if (this.#stopped) return;
    const wanted = this.#wanted();
    for (const [key, connection] of this.#connections) {
      if (wanted.has(key)) continue;
      this.#connections.delete(key);
      void this.#close(connection);
      this.#announce(connection.services);
    }
    for (const [key, want] of wanted) {
      const existing = this.#connections.get(key);
      if (existing) {
        const joined = [...want.services].filter((s) => !existing.services.has(s));
        const left = [...existing.services].filter((s) => !want.services.has(s));
        existing.services = want.services;
        this.#announce([...joined, ...left]);
        continue;
      }
      const client = this.#open(key, want.clientId, want.clientSecret);
      this.#connections.set(key, { clientId: want.clientId, services: want.services, client });
      this.#announce(want.services);
    }
  }

  #announce(services: Iterable<string>): void {
    for (const key of services) {
      const [namespace = '', service = ''] = key.split('/');
      for (const listener of this.#listeners) listener(namespace, service);
    }
  }

  /** The app credentials services with a card template use, with those services. */
  #wanted(): Map<string, { clientId: string; clientSecret: string; services: Set<string> }> {
    const { caches } = this.#ctx;
    const wanted = new Map<string, { clientId: string; clientSecret: string; services: Set<string> }>();
    for (const raw of caches.services.list()) {
      // Looked for in the cached object first: most services name no card template and need no parse here.
      if (!namesCardTemplate(raw)) continue;
      const member = serviceSpec(raw)?.member;
      const namespace = raw.metadata?.namespace ?? '';
      if (!member?.cardTemplateId) continue;
      const resolved = resolveMemberApp(namespace, member, cacheReader(caches));
      if (!resolved.ok) continue;
      const { clientId, clientSecret } = resolved.value;
      const key = `${clientId}/${digest(clientSecret)}`;
      const entry = wanted.get(key) ?? { clientId, clientSecret, services: new Set<string>() };
      entry.services.add(`${namespace}/${raw.metadata?.name}`);
      wanted.set(key, entry);
    }
    return wanted;
  }

  #open(key: string, clientId: string, clientSecret: string): StreamClient {
    const { dingtalk, metrics } = this.#ctx;
    const client = createStreamClient({
      open: (subscriptions) => dingtalk.openStreamConnection({ clientId, clientSecret }, subscriptions),
      onCardCallback: (callback) => this.#clicks.handle(clientId, callback),
      onEvent: (event) => {
        metrics.recordStreamEvent(clientId, event);
        if (CONNECTION_CHANGES.has(event)) this.#announce(this.#connections.get(key)?.services ?? []);
      },
      logger: this.#log.child({ app: clientId }),
    });
    metrics.observeStream(clientId, () => client.status().connected);
    client.start();
    return client;
  }

  async #close(connection: Connection): Promise<void> {
    this.#ctx.metrics.forgetStream(connection.clientId);
    await connection.client.close();
  }
}

function namesCardTemplate(raw: Readonly<CustomObject>): boolean {
  const member = (raw.spec as { member?: { cardTemplateId?: unknown } } | undefined)?.member;
  return typeof member?.cardTemplateId === 'string';
}
