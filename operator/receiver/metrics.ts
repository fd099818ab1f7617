import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** The receiver's Prometheus metrics, on a registry of its own (several receivers may share a test process). */

const PREFIX = 'dingtalk_operator_receiver_';

export type WriteResult = 'created' | 'exists' | 'resolved';

export class ReceiverMetrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: `${PREFIX}requests_total`,
    help: 'Alarm requests by endpoint (alarms, alertmanager, grafana) and HTTP status code.',
    labelNames: ['endpoint', 'code'] as const,
    registers: [this.registry],
  });

  readonly requestDuration = new Histogram({
    name: `${PREFIX}request_duration_seconds`,
    help: 'Time to answer an alarm request, by endpoint.',
    labelNames: ['endpoint'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly alarms = new Counter({
    name: `${PREFIX}alarms_total`,
    help: 'Alarms persisted, by endpoint and result: created, exists (a retry; nothing written) or resolved.',
    labelNames: ['endpoint', 'result'] as const,
    registers: [this.registry],
  });

  readonly rejectedAlerts = new Counter({
    name: `${PREFIX}alerts_rejected_total`,
    help: 'Alerts from Alertmanager or Grafana set aside as invalid (never stored, never retried), by endpoint and namespace.',
    labelNames: ['endpoint', 'namespace'] as const,
    registers: [this.registry],
  });

  readonly connectionsRefused = new Counter({
    name: `${PREFIX}connections_refused_total`,
    help: 'Connections closed as soon as they were accepted because their source address had --max-connections-per-address open.',
    registers: [this.registry],
  });

  readonly authCache = new Counter({
    name: `${PREFIX}auth_cache_total`,
    help: 'Review cache lookups by cache (token, access) and result (hit, miss).',
    labelNames: ['cache', 'result'] as const,
    registers: [this.registry],
  });

  readonly tokenReviews = new Counter({
    name: `${PREFIX}token_reviews_total`,
    help: "TokenReviews by outcome: authenticated, refused, throttled (not sent: too many invalid tokens), or forged (not sent: not signed by the cluster's issuer).",
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly kubeComeBackLater = new Counter({
    name: `${PREFIX}kube_api_come_back_later_total`,
    help: 'Kubernetes API answers asking to come back later (429 from API Priority and Fairness, or 5xx with Retry-After), by code and by whether the client retried the call or failed it.',
    labelNames: ['code', 'retried'] as const,
    registers: [this.registry],
  });

  constructor({ processMetrics = true }: { processMetrics?: boolean } = {}) {
    if (processMetrics) collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
  }

  recordRequest(endpoint: string, code: number, seconds: number): void {
    this.requests.inc({ endpoint, code: String(code) });
    this.requestDuration.observe({ endpoint }, seconds);
  }

  recordWrite(endpoint: string, result: WriteResult): void {
    this.alarms.inc({ endpoint, result });
  }

  recordRejected(endpoint: string, namespace: string, count: number): void {
    if (count > 0) this.rejectedAlerts.inc({ endpoint, namespace }, count);
  }

  recordConnectionRefused(): void {
    this.connectionsRefused.inc();
  }

  recordTokenReview(outcome: 'authenticated' | 'refused' | 'throttled' | 'forged'): void {
    this.tokenReviews.inc({ outcome });
  }

  recordKubeComeBackLater({ status, retried }: { status: number; retried: boolean }): void {
    this.kubeComeBackLater.inc({ code: String(status), retried: String(retried) });
  }

  recordCacheLookup(cache: 'token' | 'access', hit: boolean): void {
    this.authCache.inc({ cache, result: hit ? 'hit' : 'miss' });
  }
}
