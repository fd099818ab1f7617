import { ConfigError } from '../errors.ts';
import { loadReceiverConfig } from '../receiver/config.ts';
import { ReceiverMetrics } from '../receiver/metrics.ts';
import { buildReceiver } from '../receiver/receiver.ts';
import { loadKubeEndpoint } from '../runtime/kube-endpoint.ts';
import { createLogger } from '../runtime/logger.ts';

/**
 * The HTTP receiver: config → receiver (operator/receiver/receiver.ts) → listen. On SIGTERM/SIGINT it
 * turns unready, keeps serving for --shutdown-delay, stops accepting, lets requests in flight finish for
 * up to --shutdown-grace-period, then cuts what is left and exits.
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
  const metrics = new ReceiverMetrics();
  let shuttingDown = false;
  let kubeEndpoint: ReturnType<typeof loadKubeEndpoint>;
  try {
    kubeEndpoint = loadKubeEndpoint(config);
  } catch (err) {
    // The kubeconfig, or the ServiceAccount of a pod, could not be read.
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  let receiver: ReturnType<typeof buildReceiver>;
  try {
    receiver = buildReceiver(config, {
      kubeEndpoint,
      logger,
      metrics,
      ready: () => !shuttingDown,
    });
  } catch (err) {
    logger.fatal({ err }, 'cannot start the receiver (static token or TLS files)');
    process.exit(2);
  }
  const { app } = receiver;

  await app.listen({ host: config.address, port: config.port });
  const address = app.server.address();
  logger.info(
    {
      host: config.address,
      port: typeof address === 'object' && address ? address.port : config.port,
      namespace: config.namespace,
      tls: receiver.tls,
      staticToken: receiver.staticToken,
      audiences: config.tokenAudiences,
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
  await receiver.close();
  clearTimeout(deadline);
  logger.info('stopped');
}
