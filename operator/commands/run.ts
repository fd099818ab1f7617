import { componentFactories } from '../components.ts';
import { loadConfig } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { Manager } from '../manager/manager.ts';
import { createLogger } from '../runtime/logger.ts';

/** After the grace period: releasing the lease and closing connections; the chart leaves 2 s more. */
const RELEASE_MARGIN_MS = 3000;

/** `dingtalk-operator run [flags]`: the controllers and the dispatcher, with leader election. */
export async function main(args: string[]): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig({ argv: args, env: process.env });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  const logger = createLogger({ level: config.logLevel });
  let manager: Manager;
  try {
    manager = new Manager(config, logger, componentFactories);
  } catch (err) {
    // The kubeconfig, or the ServiceAccount of a pod, could not be read.
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // A bounded shutdown: whatever is still running after the grace period plus time to release the
    // lease is cut off, before the kubelet's SIGKILL (terminationGracePeriodSeconds, see the chart).
    setTimeout(() => process.exit(1), config.shutdownGracePeriod + RELEASE_MARGIN_MS).unref();
    manager.shutdown().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  try {
    await manager.run();
  } catch (err) {
    logger.fatal({ err }, 'operator stopped');
    process.exit(1);
  }
}
