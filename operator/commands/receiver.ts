import { hostname } from 'node:os';
import { ConfigError } from '../errors.ts';
import { buildReceiverApp } from '../receiver/app.ts';
import { Gatekeeper } from '../receiver/auth.ts';
import { loadReceiverConfig } from '../receiver/config.ts';
import { KubeHttp } from '../receiver/kube-http.ts';
import { ReceiverMetrics } from '../receiver/metrics.ts';
import { RecentWrites } from '../receiver/persist.ts';
import { KubeRejectionEvents } from '../receiver/rejections.ts';
import { KubeAccessReview } from '../receiver/review.ts';
import { StaticToken } from '../receiver/static-token.ts';
import { KubeAlarmEventStore } from '../receiver/store.ts';
import { loadKubeEndpoint } from '../runtime/kube-endpoint.ts';
import { createLogger } from '../runtime/logger.ts';

/**
 * The HTTP receiver: config → API server connection → fastify app → listen. On SIGTERM/SIGINT it turns
 * unready, keeps serving for --shutdown-delay, stops accepting, lets requests in flight finish for up to --shutdown-grace-period, then cuts
 * what is left and exits.
 */
export async function main(args: string[]): Promise<void> {
  let config: ReturnType<typeof loadReceiverConfig>;
  try {
    config = loadReceiverConfig({ argv: args, env: process.env });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  const logger = createLogger({ level: config.logLevel });
  const http = new KubeHttp(await loadKubeEndpoint(config), { timeoutMs: config.kubeRequestTimeout });
  const metrics = new ReceiverMetrics();
  let staticToken: StaticToken | undefined;
  try {
    staticToken = config.staticTokenFile ? new StaticToken(config.staticTokenFile) : undefined;
  } catch (err) {
    logger.fatal({ err, file: config.staticTokenFile }, 'cannot read the static token file');
    process.exit(2);
  }
  let shuttingDown = false;

  const app = buildReceiverApp({
    store: new KubeAlarmEventStore(http),
    gatekeeper: new Gatekeeper({
      review: new KubeAccessReview(http),
      staticToken,
      cacheTtlMs: config.authCacheTtl,
      cacheSize: config.authCacheSize,
      onCacheLookup: (cache, hit) => metrics.recordCacheLookup(cache, hit),
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
    retryAfterSeconds: Math.ceil(config.retryAfter / 1000),
    logger,
    metrics,
    ready: () => !shuttingDown,
  });

  await app.listen({ host: config.address, port: config.port });
  const address = app.server.address();
  logger.info(
    {
      host: config.address,
      port: typeof address === 'object' && address ? address.port : config.port,
      namespace: config.namespace,
      staticToken: staticToken !== undefined,
    },
    'receiver listening',
  );

  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  shuttingDown = true;
  logger.info(
    { signal, delayMs: config.shutdownDelay, gracePeriodMs: config.shutdownGracePeriod },
    'shutting down',
  );
  // Unready but still serving until the Service has dropped this pod: a caller's new connection could
  // otherwise still be sent to a closed port.
  await new Promise((resolve) => setTimeout(resolve, config.shutdownDelay));
  const deadline = setTimeout(() => {
    logger.warn('requests still in flight after the grace period; closing their connections');
    app.server.closeAllConnections();
  }, config.shutdownGracePeriod);
  deadline.unref();
  await app.close();
  clearTimeout(deadline);
  await http.close();
  logger.info('stopped');
}
