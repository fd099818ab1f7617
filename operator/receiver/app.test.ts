import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AlarmEventSpec } from '../api/index.ts';
import { KubeApiError, KubeUnavailableError } from '../errors.ts';
import { createLogger } from '../runtime/logger.ts';
import { buildReceiverApp, type ReceiverAppOptions, SUBMITTED_BY_ANNOTATION } from './app.ts';
import { Gatekeeper } from './auth.ts';
import { ReceiverMetrics } from './metrics.ts';
import { RecentWrites } from './persist.ts';
import type { RejectionRecorder, RejectionReport } from './rejections.ts';
import type {
  AccessReview,
  AccessReviewResult,
  AlarmEventVerb,
  TokenReviewResult,
  UserInfo,
} from './review.ts';
import type { AlarmEventStore, NewAlarmEvent } from './store.ts';

const TOKEN = 'sa-token-0123456789abcdef';
const STRANGER = 'sa-token-of-a-stranger';
const USER: UserInfo = {
  username: 'system:serviceaccount:monitoring:alertmanager',
  groups: ['system:authenticated'],
};

class FakeStore implements AlarmEventStore {
  readonly events = new Map<string, { spec: AlarmEventSpec; annotations?: Record<string, string> }>();
  calls = 0;
  failure: Error | undefined;
  /** Writes wait for it while it is set; `waiting` counts those that are. */
  gate: Promise<void> | undefined;
  waiting = 0;
  /** Called on every write before it happens; may throw to fail that write. */
  onCall: ((name: string) => void) | undefined;

  async create({ namespace, name, spec, annotations }: NewAlarmEvent): Promise<'created' | 'exists'> {
    if (this.gate) {
      this.waiting++;
      await this.gate;
      this.waiting--;
    }
    this.#call(name);
    const key = `${namespace}/${name}`;
    if (this.events.has(key)) return 'exists';
    this.events.set(key, { spec: structuredClone(spec), annotations });
    return 'created';
  }

  async resolve(namespace: string, name: string, endsAt: string): Promise<'resolved' | 'missing'> {
    this.#call(name);
    const event = this.events.get(`${namespace}/${name}`);
    if (!event) return 'missing';
    event.spec = { ...event.spec, state: 'resolved', endsAt };
    return 'resolved';
  }

  #call(name: string): void {
    this.calls++;
    if (this.failure) throw this.failure;
    this.onCall?.(name);
  }
}

class FakeRejections implements RejectionRecorder {
  readonly reports: RejectionReport[] = [];

  async record(report: RejectionReport): Promise<void> {
    this.reports.push(report);
  }
}

class FakeReview implements AccessReview {
  /** Namespaces USER may create AlarmEvents in. */
  allowed = new Set(['monitoring', 'team-a']);
  /** Verbs USER may use there. */
  verbs = new Set<AlarmEventVerb>(['create', 'patch']);
  failure: Error | undefined;
  tokenReviews = 0;

  async reviewToken(token: string): Promise<TokenReviewResult> {
    this.tokenReviews++;
    if (this.failure) throw this.failure;
    return token === TOKEN ? { authenticated: true, user: USER } : { authenticated: false };
  }

  async reviewAccess(user: UserInfo, namespace: string, verb: AlarmEventVerb): Promise<AccessReviewResult> {
    if (this.failure) throw this.failure;
    return this.allowed.has(namespace) && this.verbs.has(verb) && user.username === USER.username
      ? { allowed: true }
      : { allowed: false, reason: 'no RBAC policy matched' };
  }
}

function alert(index: number, status: 'firing' | 'resolved' = 'firing') {
  return {
    status,
    labels: { alertname: 'KubePodCrashLooping', severity: 'critical', pod: `api-${index}` },
    annotations: {
      summary: `Pod api-${index} is crash looping`,
      description: 'Restarted 5 times in 10 minutes.',
    },
    startsAt: '2026-05-01T08:00:00.123456789Z',
    endsAt: status === 'resolved' ? '2026-05-01T08:30:00Z' : '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus:9090/graph?g0.expr=up',
    fingerprint: `a1b2c3d4e5f6000${index}`,
  };
}

function alertmanagerPayload(alerts: unknown[]) {
  return {
    version: '4',
    groupKey: '{}:{alertname="KubePodCrashLooping"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'dingtalk',
    groupLabels: { alertname: 'KubePodCrashLooping' },
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts,
  };
}

const limits = {
  maxBodyBytes: 64 * 1024,
  maxAlertPayloadBytes: 256 * 1024,
  maxAlertsPerPayload: 1000,
  maxBatch: 20,
  maxLabels: 8,
  maxLabelLength: 64,
};

/** Resolves once `condition` holds, looking after each turn of the event loop. */
async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe('receiver HTTP API', () => {
  let store: FakeStore;
  let review: FakeReview;
  let logLines: string[];
  let app: ReturnType<typeof buildReceiverApp>;
  let ready: boolean;
  let rejections: FakeRejections;
  let rebuild: (overrides: Partial<ReceiverAppOptions>) => Promise<void>;

  beforeEach(async () => {
    store = new FakeStore();
    review = new FakeReview();
    logLines = [];
    ready = true;
    const logger = createLogger({
      level: 'debug',
      destination: new Writable({
        write(chunk, _encoding, callback) {
          logLines.push(String(chunk));
          callback();
        },
      }),
    });
    rejections = new FakeRejections();
    app = build({});
    await app.ready();
    function build(overrides: Partial<ReceiverAppOptions>) {
      const built = buildReceiverApp({
        store,
        gatekeeper: new Gatekeeper({
          review,
          audiences: ['dingtalk-operator-receiver'],
          cacheTtlMs: 30_000,
          cacheSize: 100,
          invalidTokenReviews: { perClient: 100, total: 1000 },
        }),
        defaultNamespace: 'monitoring',
        limits,
        writes: { concurrency: 4, deadlineMs: 8_000 },
        bytesInFlight: { total: 1 << 20, perNamespace: 512 * 1024 },
        connections: {
          headersTimeoutMs: 10_000,
          requestTimeoutMs: 30_000,
          idleTimeoutMs: 60_000,
          maxConnections: 100,
          maxConnectionsPerAddress: 100,
        },
        namespaceRate: { perSecond: 1000, burst: 10_000 },
        rejections,
        retryAfterSeconds: 7,
        logger,
        metrics: new ReceiverMetrics({ processMetrics: false }),
        ready: () => ready,
        now: () => new Date('2026-05-01T09:00:00Z'),
        ...overrides,
      });
      return built;
    }
    rebuild = async (overrides) => {
      await app.close();
      app = build(overrides);
      await app.ready();
    };
  });

  afterEach(async () => {
    await app.close();
  });

  function post(url: string, body: unknown, headers: Record<string, string> = {}) {
    return app.inject({
      method: 'POST',
      url,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers },
      payload: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  describe('Alertmanager webhook', () => {
    it('creates one AlarmEvent per alert and answers 202', async () => {
      const response = await post(
        '/api/v1/alertmanager',
        alertmanagerPayload([alert(1), alert(2), alert(3)]),
      );
      expect(response.statusCode).toBe(202);
      expect(response.json()).toMatchObject({ namespace: 'monitoring', accepted: 3 });
      expect([...store.events.keys()].sort()).toEqual([
        'monitoring/fp-a1b2c3d4e5f60001-1777622400123',
        'monitoring/fp-a1b2c3d4e5f60002-1777622400123',
        'monitoring/fp-a1b2c3d4e5f60003-1777622400123',
      ]);
      const event = store.events.get('monitoring/fp-a1b2c3d4e5f60001-1777622400123');
      expect(event?.spec).toEqual({
        severity: 'critical',
        title: 'Pod api-1 is crash looping',
        message: 'Restarted 5 times in 10 minutes.',
        labels: { alertname: 'KubePodCrashLooping', severity: 'critical', pod: 'api-1' },
        annotations: {
          summary: 'Pod api-1 is crash looping',
          description: 'Restarted 5 times in 10 minutes.',
          generatorURL: 'http://prometheus:9090/graph?g0.expr=up',
        },
        source: 'alertmanager',
        state: 'firing',
        startsAt: '2026-05-01T08:00:00.123456789Z',
        fingerprint: 'a1b2c3d4e5f60001',
      });
      expect(event?.annotations).toEqual({
        [SUBMITTED_BY_ANNOTATION]: `${USER.username} via alertmanager`,
      });
    });

    it('creates nothing new when the same payload comes again', async () => {
      const payload = alertmanagerPayload([alert(1), alert(2), alert(3)]);
      await post('/api/v1/alertmanager', payload);
      const again = await post('/api/v1/alertmanager', payload);
      expect(again.statusCode).toBe(202);
      expect(again.json().alarms.map((a: { result: string }) => a.result)).toEqual([
        'exists',
        'exists',
        'exists',
      ]);
      expect(store.events.size).toBe(3);
    });

    it('resolves the AlarmEvents a firing notification created', async () => {
      await post('/api/v1/alertmanager', alertmanagerPayload([alert(1), alert(2)]));
      const response = await post('/api/v1/alertmanager', alertmanagerPayload([alert(1, 'resolved')]));
      expect(response.statusCode).toBe(202);
      expect(response.json().alarms).toEqual([
        { name: 'fp-a1b2c3d4e5f60001-1777622400123', state: 'resolved', result: 'resolved' },
      ]);
      const spec = store.events.get('monitoring/fp-a1b2c3d4e5f60001-1777622400123')?.spec;
      expect(spec).toMatchObject({ state: 'resolved', endsAt: '2026-05-01T08:30:00Z' });
      expect(store.events.get('monitoring/fp-a1b2c3d4e5f60002-1777622400123')?.spec.state).toBe('firing');
    });

    it('creates a resolved AlarmEvent for an alert it never saw firing', async () => {
      const response = await post('/api/v1/alertmanager', alertmanagerPayload([alert(4, 'resolved')]));
      expect(response.json().alarms[0]).toMatchObject({ state: 'resolved', result: 'created' });
      expect(store.events.get('monitoring/fp-a1b2c3d4e5f60004-1777622400123')?.spec).toMatchObject({
        state: 'resolved',
        endsAt: '2026-05-01T08:30:00Z',
      });
    });

    it('stores the valid alerts of a payload and reports the invalid ones, which are not retried', async () => {
      const broken = { ...alert(2), startsAt: 'yesterday', labels: { alertname: 7 } };
      const longLabel = { ...alert(4), labels: { ...alert(4).labels, pod: 'p'.repeat(65) } };
      const response = await post(
        '/api/v1/alertmanager',
        alertmanagerPayload([alert(1), broken, alert(3), longLabel]),
      );
      // 2xx: Alertmanager must not send the invalid alerts again, and the valid ones are stored.
      expect(response.statusCode).toBe(202);
      const body = response.json();
      expect(body.accepted).toBe(2);
      expect([...store.events.keys()].sort()).toEqual([
        'monitoring/fp-a1b2c3d4e5f60001-1777622400123',
        'monitoring/fp-a1b2c3d4e5f60003-1777622400123',
      ]);
      expect(body.rejected).toEqual([
        {
          path: 'alerts[1]',
          fingerprint: 'a1b2c3d4e5f60002',
          issues: [
            { path: 'alerts[1].labels.alertname', message: expect.any(String) },
            { path: 'alerts[1].startsAt', message: expect.any(String) },
          ],
        },
        {
          path: 'alerts[3]',
          fingerprint: 'a1b2c3d4e5f60004',
          issues: [{ path: 'alerts[3].labels.pod', message: 'label value must be at most 64 characters' }],
        },
      ]);
      expect(rejections.reports).toEqual([
        { namespace: 'monitoring', kind: 'alertmanager', total: 4, rejected: body.rejected },
      ]);
      const metrics = (await app.inject({ url: '/metrics' })).body;
      expect(metrics).toContain(
        'dingtalk_operator_receiver_alerts_rejected_total{endpoint="alertmanager",namespace="monitoring"} 2',
      );
    });

    it('sets aside only the alert holding a __proto__ key, and stores the others', async () => {
      // As Alertmanager would relay a label named __proto__ from a metric: the raw text, not an object.
      const poisoned = JSON.stringify(alert(2)).replace('"labels":{', '"labels":{"__proto__":"x",');
      const body = JSON.stringify(alertmanagerPayload([alert(1), 'POISONED', alert(3)])).replace(
        '"POISONED"',
        poisoned,
      );
      const response = await post('/api/v1/alertmanager', body);
      expect(response.statusCode).toBe(202);
      expect(response.json()).toMatchObject({
        accepted: 2,
        rejected: [
          {
            path: 'alerts[1]',
            fingerprint: 'a1b2c3d4e5f60002',
            issues: [{ path: 'alerts[1].labels.__proto__', message: 'must not be a key' }],
          },
        ],
      });
      expect(store.events.size).toBe(2);
      expect(rejections.reports).toHaveLength(1);
    });

    it('answers 400 when no alert of the payload can be stored', async () => {
      const broken = { ...alert(2), startsAt: 'yesterday' };
      const response = await post('/api/v1/alertmanager', alertmanagerPayload([broken]));
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({
        code: 'RCV_ERR_INVALID_BODY',
        issues: [{ path: 'alerts[0].startsAt' }],
      });
      expect(rejections.reports).toHaveLength(1);
      expect(store.calls).toBe(0);
    });

    it('stores the other alerts when the API server refuses one for good', async () => {
      store.onCall = (name) => {
        if (name.includes('60002')) {
          throw KubeApiError.fromResponse(422, '{"reason":"Invalid","message":"spec.title: Too long"}');
        }
      };
      const response = await post(
        '/api/v1/alertmanager',
        alertmanagerPayload([alert(1), alert(2), alert(3)]),
      );
      expect(response.statusCode).toBe(202);
      expect(response.json()).toMatchObject({
        accepted: 2,
        rejected: [
          {
            path: 'alerts[1]',
            fingerprint: 'a1b2c3d4e5f60002',
            issues: [{ path: 'alerts[1]', message: expect.stringContaining('spec.title: Too long') }],
          },
        ],
      });
      expect(store.events.size).toBe(2);
    });

    it('takes a payload of hundreds of alerts within its byte limit', async () => {
      const alerts = Array.from({ length: 300 }, (_, i) => alert(i));
      const response = await post('/api/v1/alertmanager', alertmanagerPayload(alerts));
      expect(response.statusCode).toBe(202);
      expect(store.events.size).toBe(300);
    });

    it('answers 503 with Retry-After to a payload over its byte limit, so Alertmanager keeps the alerts', async () => {
      const alerts = Array.from({ length: 1200 }, (_, i) => alert(i));
      const response = await post('/api/v1/alertmanager', alertmanagerPayload(alerts));
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('7');
      expect(response.json().code).toBe('RCV_ERR_PAYLOAD_TOO_LARGE');
    });

    it('answers 503 at the deadline with what it stored, and the retry stores only the rest', async () => {
      let clock = Date.parse('2026-05-01T09:00:00Z');
      // Every write takes a second of the fake clock; the deadline allows three.
      store.onCall = () => {
        clock += 1_000;
      };
      const recent = new RecentWrites({ maxEntries: 100, ttlMs: 60_000 });
      await rebuild({ writes: { concurrency: 1, deadlineMs: 3_000, recent }, now: () => new Date(clock) });
      const payload = alertmanagerPayload([1, 2, 3, 4, 5].map((i) => alert(i)));

      const first = await post('/api/v1/alertmanager', payload);
      expect(first.statusCode).toBe(503);
      expect(first.headers['retry-after']).toBe('1');
      expect(first.json()).toMatchObject({ code: 'RCV_ERR_ANSWER_DEADLINE', accepted: 3, left: 2 });
      expect(store.events.size).toBe(3);

      const retry = await post('/api/v1/alertmanager', payload);
      expect(retry.statusCode).toBe(202);
      expect(retry.json().accepted).toBe(5);
      expect(store.events.size).toBe(5);
      // Only the two left over cost a call.
      expect(store.calls).toBe(5);
    });

    it('answers 503 with what it stored when the API server goes away part-way', async () => {
      let calls = 0;
      store.onCall = () => {
        if (++calls > 2) throw new KubeUnavailableError('Kubernetes API unreachable: ECONNREFUSED');
      };
      await rebuild({ writes: { concurrency: 1, deadlineMs: 8_000 } });
      const response = await post(
        '/api/v1/alertmanager',
        alertmanagerPayload([1, 2, 3, 4].map((i) => alert(i))),
      );
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('7');
      expect(response.json()).toMatchObject({ code: 'RCV_ERR_KUBE_UNAVAILABLE', accepted: 2, left: 2 });
    });

    it('answers 429 with Retry-After and what it stored once the namespace has spent its writes; others are not held back', async () => {
      let clock = Date.parse('2026-05-01T09:00:00Z');
      const recent = new RecentWrites({ maxEntries: 100, ttlMs: 60_000 });
      await rebuild({
        writes: { concurrency: 1, deadlineMs: 8_000, recent },
        namespaceRate: { perSecond: 1, burst: 3 },
        now: () => new Date(clock),
      });
      const payload = alertmanagerPayload([1, 2, 3, 4, 5].map((i) => alert(i)));

      const first = await post('/api/v1/alertmanager', payload);
      expect(first.statusCode).toBe(429);
      // Two left at one a second.
      expect(first.headers['retry-after']).toBe('2');
      expect(first.json()).toMatchObject({ code: 'RCV_ERR_RATE_LIMITED', accepted: 3, left: 2 });
      expect(store.events.size).toBe(3);

      const other = await post(
        '/api/v1/namespaces/team-a/alertmanager',
        alertmanagerPayload([1, 2, 3].map((i) => alert(i))),
      );
      expect(other.statusCode).toBe(202);

      clock += 2_000;
      // The group comes again whole: what is stored costs no write, the rest fits now.
      const again = await post('/api/v1/alertmanager', payload);
      expect(again.statusCode).toBe(202);
      expect(again.json().accepted).toBe(5);
      expect(store.events.size).toBe(8);
    });

    it('answers 429 with what it stored when the namespace is over its ResourceQuota', async () => {
      let calls = 0;
      store.onCall = () => {
        if (++calls > 2) {
          throw KubeApiError.fromResponse(
            403,
            '{"kind":"Status","message":"alarmevents.dingtalk.alarming.io \\"x\\" is forbidden: exceeded quota: alarmevents, requested: count/alarmevents.dingtalk.alarming.io=1, used: count/alarmevents.dingtalk.alarming.io=2, limited: count/alarmevents.dingtalk.alarming.io=2","reason":"Forbidden","code":403}',
          );
        }
      };
      await rebuild({ writes: { concurrency: 1, deadlineMs: 8_000 } });
      const response = await post(
        '/api/v1/alertmanager',
        alertmanagerPayload([1, 2, 3, 4].map((i) => alert(i))),
      );
      expect(response.statusCode).toBe(429);
      expect(response.headers['retry-after']).toBe('7');
      expect(response.json()).toMatchObject({ code: 'RCV_ERR_QUOTA_EXCEEDED', accepted: 2, left: 2 });
    });

    it("answers 503 with Retry-After while the namespace's ResourceQuota is not counted yet, and stores the rest when it is", async () => {
      let counted = false;
      store.onCall = () => {
        if (!counted) {
          throw KubeApiError.fromResponse(
            403,
            '{"kind":"Status","message":"alarmevents.dingtalk.alarming.io \\"x\\" is forbidden: status unknown for quota: alarmevents, resources: count/alarmevents.dingtalk.alarming.io","reason":"Forbidden","code":403}',
          );
        }
      };
      const payload = alertmanagerPayload([1, 2].map((i) => alert(i)));
      const first = await post('/api/v1/alertmanager', payload);
      expect(first.statusCode).toBe(503);
      expect(first.headers['retry-after']).toBe('7');
      expect(first.json()).toMatchObject({ code: 'RCV_ERR_QUOTA_NOT_COUNTED', accepted: 0, left: 2 });

      counted = true;
      const again = await post('/api/v1/alertmanager', payload);
      expect(again.statusCode).toBe(202);
      expect(store.events.size).toBe(2);
    });

    it('answers 403 to resolved alerts from a caller that may create AlarmEvents but not patch them', async () => {
      review.verbs.delete('patch');
      const firing = await post('/api/v1/alertmanager', alertmanagerPayload([alert(1)]));
      expect(firing.statusCode).toBe(202);
      const resolved = await post('/api/v1/alertmanager', alertmanagerPayload([alert(1, 'resolved')]));
      expect(resolved.statusCode).toBe(403);
      expect(resolved.json().message).toContain('may not patch');
      expect(store.events.get('monitoring/fp-a1b2c3d4e5f60001-1777622400123')?.spec.state).toBe('firing');
    });

    it('rejects payload versions other than 4', async () => {
      const response = await post('/api/v1/alertmanager', {
        ...alertmanagerPayload([alert(1)]),
        version: '3',
      });
      expect(response.statusCode).toBe(400);
      expect(response.json().issues[0]).toMatchObject({ path: 'version' });
    });
  });

  describe('Grafana webhook', () => {
    it('maps Grafana alerts with their dashboard links', async () => {
      const response = await post('/api/v1/grafana', {
        receiver: 'dingtalk',
        status: 'firing',
        orgId: 1,
        version: '1',
        alerts: [
          {
            status: 'firing',
            labels: { alertname: 'HighLatency', grafana_folder: 'API' },
            annotations: {},
            startsAt: '2026-05-01T08:00:00Z',
            endsAt: '0001-01-01T00:00:00Z',
            fingerprint: '0f1e2d3c4b5a6978',
            dashboardURL: 'http://grafana/d/abc',
            valueString: "[ var='A' value=0.93 ]",
          },
        ],
      });
      expect(response.statusCode).toBe(202);
      const spec = store.events.get('monitoring/fp-0f1e2d3c4b5a6978-1777622400000')?.spec;
      expect(spec).toMatchObject({
        severity: 'warning',
        title: 'HighLatency',
        source: 'grafana',
        annotations: { dashboardURL: 'http://grafana/d/abc', valueString: "[ var='A' value=0.93 ]" },
      });
    });
  });

  describe('own alarms', () => {
    it('accepts one alarm and stamps its start and fingerprint', async () => {
      const response = await post('/api/v1/alarms', {
        severity: 'info',
        title: 'Nightly backup finished late',
        labels: { job: 'backup' },
      });
      expect(response.statusCode).toBe(202);
      const [event] = store.events.values();
      expect(event?.spec).toMatchObject({
        state: 'firing',
        startsAt: '2026-05-01T09:00:00.000Z',
        fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
      });
    });

    it('accepts a batch and reports every invalid item by index', async () => {
      const ok = { severity: 'critical', title: 'A', startsAt: '2026-05-01T08:00:00Z', fingerprint: 'a' };
      const response = await post('/api/v1/alarms', [ok, { severity: 'loud', title: '' }, ok]);
      expect(response.statusCode).toBe(400);
      expect(
        response
          .json()
          .issues.map((i: { path: string }) => i.path)
          .sort(),
      ).toEqual(['[1].severity', '[1].title']);
      expect(store.calls).toBe(0);

      const accepted = await post('/api/v1/alarms', [ok, { ...ok, fingerprint: 'b' }]);
      expect(accepted.json()).toMatchObject({ accepted: 2 });
    });

    it('applies the cross-field rule of the AlarmEvent schema', async () => {
      const response = await post('/api/v1/alarms', {
        severity: 'info',
        title: 'x',
        state: 'resolved',
        startsAt: '2026-05-01T08:00:00Z',
        endsAt: '2026-05-01T07:00:00Z',
      });
      expect(response.statusCode).toBe(400);
      expect(response.json().issues).toEqual([
        { path: 'endsAt', message: 'endsAt must not be before startsAt' },
      ]);
    });
  });

  describe('limits', () => {
    it('answers 413 to a body over the size limit', async () => {
      const response = await post('/api/v1/alarms', {
        severity: 'info',
        title: 'x',
        message: 'y'.repeat(70_000),
      });
      expect(response.statusCode).toBe(413);
      expect(response.json().code).toBe('RCV_ERR_BODY_TOO_LARGE');
    });

    it('answers 400 to a batch over the size limit on /alarms, before looking at its items', async () => {
      const alarms = Array.from({ length: 21 }, (_, i) => ({ bogus: i }));
      const response = await post('/api/v1/alarms', alarms);
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ code: 'RCV_ERR_BATCH_TOO_LARGE', issues: [{ path: '' }] });
    });

    it('answers 400 to too many labels and to labels too long', async () => {
      const many = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`l${i}`, 'v']));
      const long = { alertname: 'x'.repeat(65), ['k'.repeat(70)]: 'v' };
      const response = await post(
        '/api/v1/alertmanager',
        alertmanagerPayload([
          { ...alert(1), labels: many },
          { ...alert(2), labels: long },
        ]),
      );
      expect(response.statusCode).toBe(400);
      expect(response.json().issues).toEqual([
        { path: 'alerts[0].labels', message: 'must have at most 8 entries (has 9)' },
        { path: 'alerts[1].labels.alertname', message: 'label value must be at most 64 characters' },
        { path: `alerts[1].labels.${'k'.repeat(64)}…`, message: 'label name must be at most 64 characters' },
      ]);
      expect(store.calls).toBe(0);
    });

    it('answers 415 to anything but JSON', async () => {
      for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
        const response = await post('/api/v1/alarms', 'severity=info', { 'content-type': contentType });
        expect(response.statusCode, contentType).toBe(415);
        expect(response.json().code).toBe('RCV_ERR_UNSUPPORTED_MEDIA_TYPE');
      }
    });

    it('answers 400 to malformed JSON and to an empty body', async () => {
      for (const [url, body] of [
        ['/api/v1/alertmanager', '{"version":'],
        ['/api/v1/alertmanager', ''],
        ['/api/v1/alarms', ''],
        ['/api/v1/alarms', '{"__proto__":{"x":1}}'],
      ] as const) {
        const response = await post(url, body);
        expect(response.statusCode, body).toBe(400);
        expect(response.json().code).toBe('RCV_ERR_MALFORMED_JSON');
      }
    });

    it('answers 503 with Retry-After to more alerts than its bound, counted before they are parsed', async () => {
      const body = `{"version":"4","alerts":[${Array.from({ length: 1001 }, () => '{}').join(',')}]}`;
      const response = await post('/api/v1/alertmanager', body);
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('7');
      expect(response.json()).toMatchObject({
        code: 'RCV_ERR_TOO_MANY_ALERTS',
        issues: [{ path: 'alerts', message: 'must hold at most 1000 alerts' }],
      });
      expect(store.calls).toBe(0);
    });

    it('answers 400 to objects and arrays that no alert holds, and to deep nesting', async () => {
      const hidden = `{"version":"4","alerts":[{"junk":[${Array.from({ length: 100 }, () => '{}').join(',')}]}]}`;
      const deep = `{"version":"4","alerts":[${'['.repeat(20)}${']'.repeat(20)}]}`;
      const hiddenInAlarm = `{"severity":"info","title":"x","junk":[${Array.from({ length: 100 }, () => '{}').join(',')}]}`;
      for (const [url, body] of [
        ['/api/v1/alertmanager', hidden],
        ['/api/v1/alertmanager', deep],
        ['/api/v1/alarms', hiddenInAlarm],
      ] as const) {
        const response = await post(url, body);
        expect(response.statusCode).toBe(400);
        expect(response.json()).toMatchObject({ code: 'RCV_ERR_PAYLOAD_SHAPE', issues: [{ path: '' }] });
      }
    });

    it('holds no more request bytes than its bounds, per namespace and in total, and answers 503 beyond', async () => {
      let open = () => {};
      store.gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      const body = JSON.stringify(alertmanagerPayload(Array.from({ length: 100 }, (_, i) => alert(i))));
      // One such body fits a namespace, two fit the receiver.
      const size = Buffer.byteLength(body);
      await rebuild({ bytesInFlight: { total: 2.5 * size, perNamespace: 1.5 * size } });
      const first = post('/api/v1/namespaces/monitoring/alertmanager', body);
      const second = post('/api/v1/namespaces/team-a/alertmanager', body);
      await waitFor(() => store.waiting >= 2);
      const sameNamespace = await post('/api/v1/namespaces/monitoring/alertmanager', body);
      expect(sameNamespace.statusCode).toBe(503);
      expect(sameNamespace.headers['retry-after']).toBe('7');
      expect(sameNamespace.json().code).toBe('RCV_ERR_BUSY');
      expect(sameNamespace.json().message).toMatch(/--max-namespace-bytes-in-flight/);
      review.allowed.add('team-b');
      const thirdNamespace = await post('/api/v1/namespaces/team-b/alertmanager', body);
      expect(thirdNamespace.statusCode).toBe(503);
      expect(thirdNamespace.json().message).toMatch(/--max-bytes-in-flight/);
      open();
      expect((await first).statusCode).toBe(202);
      expect((await second).statusCode).toBe(202);
      // Answered, they hold nothing.
      expect((await post('/api/v1/namespaces/team-b/alertmanager', body)).statusCode).toBe(202);
    });
  });

  describe('namespace', () => {
    it('comes from the path, the query or the default, in that order', async () => {
      const one = [alert(1)];
      expect(
        (await post('/api/v1/namespaces/team-a/alertmanager', alertmanagerPayload(one))).json().namespace,
      ).toBe('team-a');
      expect(
        (await post('/api/v1/alertmanager?namespace=team-a', alertmanagerPayload(one))).json().namespace,
      ).toBe('team-a');
      expect((await post('/api/v1/alertmanager', alertmanagerPayload(one))).json().namespace).toBe(
        'monitoring',
      );
    });

    it('rejects a path and a query that disagree, and names that are not namespaces', async () => {
      const conflicting = await post('/api/v1/namespaces/team-a/alarms?namespace=team-b', {});
      expect(conflicting.statusCode).toBe(400);
      expect(conflicting.json().code).toBe('RCV_ERR_INVALID_NAMESPACE');
      const invalid = await post('/api/v1/alarms?namespace=Team_A', {});
      expect(invalid.statusCode).toBe(400);
    });

    it('answers 404 when the namespace does not exist', async () => {
      store.failure = KubeApiError.fromResponse(
        404,
        '{"reason":"NotFound","message":"namespaces \\"x\\" not found"}',
      );
      const response = await post('/api/v1/alertmanager', alertmanagerPayload([alert(1)]));
      expect(response.statusCode).toBe(404);
      expect(response.json().code).toBe('RCV_ERR_NAMESPACE_NOT_FOUND');
    });
  });

  describe('authentication and authorisation', () => {
    it('answers 401 without a token, with a bad scheme, and with a token the API server rejects', async () => {
      for (const authorization of [undefined, 'Basic dXNlcjpwYXNz', `Bearer ${STRANGER}`]) {
        const response = await app.inject({
          method: 'POST',
          url: '/api/v1/alertmanager',
          headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
          payload: JSON.stringify(alertmanagerPayload([alert(1)])),
        });
        expect(response.statusCode, authorization).toBe(401);
        expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
        expect(response.json().code).toBe('RCV_ERR_UNAUTHENTICATED');
      }
      expect(store.calls).toBe(0);
    });

    it('answers 403 naming the caller and the namespace when RBAC does not allow it', async () => {
      const response = await post(
        '/api/v1/namespaces/payments/alertmanager',
        alertmanagerPayload([alert(1)]),
      );
      expect(response.statusCode).toBe(403);
      expect(response.json()).toEqual({
        code: 'RCV_ERR_FORBIDDEN',
        message: `${USER.username} may not create alarmevents.dingtalk.alarming.io in namespace payments (no RBAC policy matched); grant it with a Role and RoleBinding there`,
      });
      expect(store.calls).toBe(0);
    });

    it('checks the caller before reading the body', async () => {
      const response = await post('/api/v1/alarms', '{not json', { authorization: 'Bearer nope' });
      expect(response.statusCode).toBe(401);
    });

    it('never writes the token into logs or answers', async () => {
      await post('/api/v1/alertmanager', alertmanagerPayload([alert(1)]));
      const denied = await post('/api/v1/alertmanager', alertmanagerPayload([alert(1)]), {
        authorization: `Bearer ${STRANGER}`,
      });
      expect(denied.body).not.toContain(STRANGER);
      const log = logLines.join('');
      expect(log).toContain('alarm request');
      expect(log).not.toContain(TOKEN);
      expect(log).not.toContain(STRANGER);
    });
  });

  describe('when the API server cannot take writes', () => {
    it('answers 503 with Retry-After, the API server’s own when it gave one', async () => {
      store.failure = new KubeUnavailableError('Kubernetes API unreachable: ECONNREFUSED');
      const response = await post('/api/v1/alertmanager', alertmanagerPayload([alert(1)]));
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('7');
      expect(response.json().code).toBe('RCV_ERR_KUBE_UNAVAILABLE');

      store.failure = new KubeUnavailableError('Kubernetes API answered 429', 30);
      const throttled = await post('/api/v1/alertmanager', alertmanagerPayload([alert(1)]));
      expect(throttled.headers['retry-after']).toBe('30');
    });

    it('answers 503 when the token cannot be reviewed, and does not remember the failure', async () => {
      review.failure = new KubeUnavailableError('Kubernetes API unreachable: ECONNREFUSED');
      expect((await post('/api/v1/alertmanager', alertmanagerPayload([alert(1)]))).statusCode).toBe(503);
      review.failure = undefined;
      expect((await post('/api/v1/alertmanager', alertmanagerPayload([alert(1)]))).statusCode).toBe(202);
    });

    it('answers 500 when the API server refuses for a reason a retry will not fix', async () => {
      store.failure = KubeApiError.fromResponse(
        403,
        '{"reason":"Forbidden","message":"receiver may not create"}',
      );
      const response = await post('/api/v1/alertmanager', alertmanagerPayload([alert(1)]));
      expect(response.statusCode).toBe(500);
      expect(response.json().code).toBe('RCV_ERR_KUBE_REJECTED');
    });
  });

  describe('probes and metrics', () => {
    it('serves /healthz, /readyz (503 while shutting down) and /metrics', async () => {
      expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
      expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200);
      ready = false;
      expect((await app.inject({ url: '/readyz' })).statusCode).toBe(503);

      await post('/api/v1/alertmanager', alertmanagerPayload([alert(1), alert(2)]));
      const metrics = (await app.inject({ url: '/metrics' })).body;
      expect(metrics).toContain(
        'dingtalk_operator_receiver_requests_total{endpoint="alertmanager",code="202"} 1',
      );
      expect(metrics).toContain(
        'dingtalk_operator_receiver_alarms_total{endpoint="alertmanager",result="created"} 2',
      );
    });

    it('answers unknown routes with 404 naming the real ones', async () => {
      const response = await post('/v1/alertmanager/monitoring', {});
      expect(response.statusCode).toBe(404);
      expect(response.json().message).toContain('/api/v1/');
    });
  });
});
