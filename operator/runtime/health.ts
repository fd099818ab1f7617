import Fastify from 'fastify';
import type { Logger } from 'pino';
import type { OperatorMetrics } from './metrics.ts';

/**
 * The probe and metrics server: /healthz (the process serves requests), /readyz (every readiness check
 * passes) and /metrics (Prometheus text).
 *
 * Readiness never depends on leadership: followers keep their caches warm and must stay in the
 * Service, or a rollout would take every replica out at once. Register informer sync checks here.
 */

/** Returns true when ready, or a short reason why not. */
export type ReadinessCheck = () => true | string;

export interface HealthServerOptions {
  host: string;
  port: number;
  metrics: OperatorMetrics;
  logger: Logger;
}

export class HealthServer {
  readonly #app = Fastify({ logger: false });
  readonly #checks = new Map<string, ReadinessCheck>();
  readonly #options: HealthServerOptions;

  constructor(options: HealthServerOptions) {
    this.#options = options;
    this.#app.get('/healthz', async () => ({ status: 'ok' }));
    this.#app.get('/readyz', async (_request, reply) => {
      const failing = this.failingChecks();
      if (failing.length > 0) return reply.code(503).send({ status: 'not ready', failing });
      return { status: 'ok' };
    });
    this.#app.get('/metrics', async (_request, reply) => {
      const { registry } = this.#options.metrics;
      return reply.header('content-type', registry.contentType).send(await registry.metrics());
    });
  }

  addReadinessCheck(name: string, check: ReadinessCheck): void {
    this.#checks.set(name, check);
  }

  /** `name: reason` for every check that does not pass. */
  failingChecks(): string[] {
    const failing: string[] = [];
    for (const [name, check] of this.#checks) {
      let result: true | string;
      try {
        result = check();
      } catch (err) {
        result = err instanceof Error ? err.message : String(err);
      }
      if (result !== true) failing.push(`${name}: ${result}`);
    }
    return failing;
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  async listen(): Promise<{ host: string; port: number }> {
    await this.#app.listen({ host: this.#options.host, port: this.#options.port });
    const address = this.#app.server.address();
    const port = typeof address === 'object' && address ? address.port : this.#options.port;
    this.#options.logger.info({ host: this.#options.host, port }, 'health and metrics server listening');
    return { host: this.#options.host, port };
  }

  /** The port it listens on, once listening (the one port 0 picked). */
  get port(): number | undefined {
    const address = this.#app.server.address();
    return typeof address === 'object' && address ? address.port : undefined;
  }

  close(): Promise<void> {
    return this.#app.close();
  }
}
