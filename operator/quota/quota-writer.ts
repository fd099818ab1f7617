import type { Logger } from 'pino';
import { API_VERSION, DINGTALK_SERVICE_PLURAL, DingTalkServiceGvk, GROUP, VERSION } from '../api/index.ts';
import { isNotFound } from '../errors.ts';
import { mapConcurrently } from '../runtime/concurrency.ts';
import type { KubeHttp } from '../runtime/kube-http.ts';
import { objectPath } from '../runtime/kube-path.ts';
import type { Clock } from '../runtime/timers.ts';
import type { QuotaLedger } from './ledger.ts';

const FIELD_MANAGER = 'dingtalk-operator-quota';
const APPLY_CONCURRENCY = 4;

/**
 * Writes the ledger's counts to DingTalkService status.usage, the one field it owns, by server-side
 * apply under a field manager of its own: at most one apply per changed service per interval, whatever
 * the send rate. A failed apply is tried again next interval; stop() writes what is left, so a clean
 * shutdown loses no count and a crash loses at most one interval's.
 */
export class QuotaWriter {
  readonly #kube: KubeHttp;
  readonly #ledger: QuotaLedger;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #clock: Clock;
  #cancelTimer: (() => void) | undefined;
  #flushing: Promise<void> | undefined;

  constructor(kube: KubeHttp, ledger: QuotaLedger, logger: Logger, intervalMs: number, clock: Clock) {
    this.#kube = kube;
    this.#ledger = ledger;
    this.#log = logger;
    this.#intervalMs = intervalMs;
    this.#clock = clock;
  }

  start(): void {
    if (this.#cancelTimer) return;
    const tick = () => {
      this.#cancelTimer = this.#clock.timer(this.#intervalMs, () => {
        this.#ledger.refresh();
        this.#flushing ??= this.#flush().finally(() => {
          this.#flushing = undefined;
        });
        tick();
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    await this.#flushing;
    await this.#flush();
  }

  async #flush(): Promise<void> {
    await mapConcurrently(this.#ledger.takeDirty(), APPLY_CONCURRENCY, async (key) => {
      const [namespace, name] = JSON.parse(key) as [string, string];
      const usage = this.#ledger.usage(namespace, name);
      // Apply takes an empty object for null, which the schema refuses; a service without buckets has none.
      if (Object.keys(usage).length === 0) return;
      try {
        await this.#kube.apply(
          `${objectPath({ group: GROUP, version: VERSION, plural: DINGTALK_SERVICE_PLURAL, namespace, name })}/status`,
          {
            apiVersion: API_VERSION,
            kind: DingTalkServiceGvk.kind,
            metadata: { name, namespace },
            status: { usage },
          },
          { fieldManager: FIELD_MANAGER, force: true },
        );
      } catch (err) {
        // A deleted service's count goes with it; anything else is written next interval.
        if (isNotFound(err)) return;
        this.#ledger.markDirty(key);
        this.#log.warn({ err, namespace, service: name }, 'could not write quota usage; will retry');
      }
    });
  }
}
