import type { JsonWebKey } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { KubeEndpoint } from '../runtime/kube-endpoint.ts';
import { KubeHttp, rateLimitOf } from '../runtime/kube-http.ts';
import { buildReceiverApp } from './app.ts';
import { Gatekeeper } from './auth.ts';
import type { ReceiverConfig } from './config.ts';
import { IssuerKeys } from './issuer-keys.ts';
import type { ReceiverMetrics } from './metrics.ts';
import { RecentWrites } from './persist.ts';
import { KubeRejectionEvents } from './rejections.ts';
import { KubeAccessReview } from './review.ts';
import { reloadCertificate } from './server-options.ts';
import { StaticToken } from './static-token.ts';
import { KubeAlarmEventStore } from './store.ts';

/**
 * The receiver wired from its configuration: one API server connection pool for reviews, writes and
 * rejection Events, the gatekeeper, the memory of recent writes, the Fastify app and, with TLS, the
 * certificate reload. The `receiver` command listens and
 * handles signals; tests build the same thing from the same flags.
 */
export function buildReceiver(
  config: ReceiverConfig,
  {
    kubeEndpoint,
    logger,
    metrics,
    ready,
    now,
  }: {
    /** The API server: runtime/kube-endpoint.ts's, or a client-node KubeConfig. */
    kubeEndpoint: KubeEndpoint;
    logger: Logger;
    metrics: ReceiverMetrics;
    ready: () => boolean;
    /** The clock of the auth cache and the review budgets. */
    now?: () => number;
  },
) {
  // Throws when the file cannot be read or is empty, so a misconfigured receiver does not start.
  const staticToken = config.staticTokenFile ? new StaticToken(config.staticTokenFile) : undefined;
  const http = new KubeHttp(kubeEndpoint, {
    timeoutMs: config.kubeRequestTimeout,
    rateLimit: rateLimitOf(config),
    onComeBackLater: (answer) => metrics.recordKubeComeBackLater(answer),
  });
  const tls =
    config.tlsCertFile && config.tlsKeyFile
      ? { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile }
      : undefined;
  const app = buildReceiverApp({
    store: new KubeAlarmEventStore(http),
    gatekeeper: new Gatekeeper({
      review: new KubeAccessReview(http, config.tokenAudiences),
      audiences: config.tokenAudiences,
      staticToken,
      issuerKeys: new IssuerKeys({
        documents: {
          issuer: async () =>
            (await http.get<{ issuer: string }>('/.well-known/openid-configuration')).issuer,
          keys: async () =>
            (
              await http.get<{ keys: JsonWebKey[] }>('/openid/v1/jwks', {
                accept: 'application/jwk-set+json',
              })
            ).keys,
        },
        audiences: config.tokenAudiences,
        now,
        onUnavailable: (err) =>
          logger.warn(
            { err: String(err) },
            "cannot read the cluster's ServiceAccount issuer keys; every token costs a budgeted TokenReview until they can be read",
          ),
      }),
      staticTokenNamespaces: config.staticTokenNamespaces ?? [config.namespace],
      cacheTtlMs: config.authCacheTtl,
      cacheSize: config.authCacheSize,
      invalidTokenReviews: {
        perClient: config.invalidTokenReviewsPerClient,
        total: config.invalidTokenReviews,
      },
      onCacheLookup: (cache, hit) => metrics.recordCacheLookup(cache, hit),
      onTokenReview: (outcome) => metrics.recordTokenReview(outcome),
      now,
    }),
    defaultNamespace: config.namespace,
    limits: config,
    writes: {
      concurrency: config.writeConcurrency,
      deadlineMs: config.answerDeadline,
      // Five storms of 10,000 alerts; about 150 bytes an entry. Alertmanager repeats firing alerts every
      // repeat_interval (4h by default), so an hour covers its retries and group_interval reposts.
      recent: new RecentWrites({ maxEntries: 50_000, ttlMs: 3_600_000 }),
    },
    rejections: new KubeRejectionEvents(http, {
      reportingInstance: process.env.POD_NAME || hostname(),
      logger,
    }),
    bytesInFlight: { total: config.maxBytesInFlight, perNamespace: config.maxNamespaceBytesInFlight },
    connections: {
      headersTimeoutMs: config.headersTimeout,
      requestTimeoutMs: config.requestTimeout,
      idleTimeoutMs: config.idleTimeout,
      maxConnections: config.maxConnections,
      maxConnectionsPerAddress: config.maxConnectionsPerAddress,
      tls,
    },
    namespaceRate: { perSecond: config.namespaceRate, burst: config.namespaceBurst },
    retryAfterSeconds: Math.ceil(config.retryAfter / 1000),
    logger,
    metrics,
    ready,
  });
  const stopReload = tls ? reloadCertificate(app.server, tls, logger) : () => {};
  return {
    app,
    tls: tls !== undefined,
    staticToken: staticToken !== undefined,
    /** Closes the app (requests in flight finish) and the API server connections. */
    close: async () => {
      stopReload();
      await app.close();
      await http.close();
    },
  };
}
