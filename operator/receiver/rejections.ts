import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { AlarmEventGvk, API_VERSION } from '../api/index.ts';
import { toKubeApiError } from '../errors.ts';
import { createEvent } from '../runtime/events.ts';
import type { KubeHttp } from '../runtime/kube-http.ts';
import { truncateUtf8 } from '../runtime/text.ts';
import type { AlertKind, RejectedAlert } from './intake.ts';

/**
 * Tells a namespace's users that alerts sent for it were set aside: one Warning Event (events.k8s.io/v1)
 * per payload, in that namespace. Its name is derived from what was rejected, so Alertmanager's retries
 * and reposts of the same payload add no second Event. Never throws: the alarms that were stored must
 * still be answered.
 */

export interface RejectionReport {
  namespace: string;
  kind: AlertKind;
  /** Alerts in the payload. */
  total: number;
  rejected: readonly RejectedAlert[];
}

export interface RejectionRecorder {
  record(report: RejectionReport): Promise<void>;
}

const MAX_NOTE_BYTES = 1024;
export const REJECTED_REASON = 'AlertsRejected';

export class KubeRejectionEvents implements RejectionRecorder {
  readonly #http: KubeHttp;
  readonly #instance: string;
  readonly #logger: Logger;

  constructor(http: KubeHttp, { reportingInstance, logger }: { reportingInstance: string; logger: Logger }) {
    this.#http = http;
    this.#instance = reportingInstance.slice(0, 128);
    this.#logger = logger;
  }

  async record(report: RejectionReport): Promise<void> {
    const { namespace } = report;
    const note = rejectionNote(report);
    const name = `dingtalk-operator-receiver.${createHash('sha256').update(`${report.kind}\u0000${note}`).digest('hex').slice(0, 16)}`;
    try {
      await createEvent(this.#http, {
        name,
        namespace,
        type: 'Warning',
        reason: REJECTED_REASON,
        action: 'Receive',
        note,
        reportingController: 'dingtalk.alarming.io/receiver',
        reportingInstance: this.#instance,
        regarding: { apiVersion: API_VERSION, kind: AlarmEventGvk.kind, namespace },
      });
    } catch (err) {
      if (toKubeApiError(err)?.status === 409) return;
      this.#logger.warn({ err, namespace, reason: REJECTED_REASON }, 'could not record event');
    }
  }
}

/** One line naming each rejected alert (path, fingerprint) and why, cut at the Event's 1 KiB. */
export function rejectionNote({ kind, total, rejected }: RejectionReport): string {
  const source = kind === 'alertmanager' ? 'Alertmanager' : 'Grafana';
  const items = rejected.map(({ path, fingerprint, issues }) => {
    const which = fingerprint ? `${path} (fingerprint ${fingerprint})` : path;
    return `${which}: ${issues.map((issue) => `${issue.path || '<root>'} ${issue.message}`).join(', ')}`;
  });
  return truncateUtf8(
    `${rejected.length} of ${total} alerts sent by ${source} were not stored and will not be retried: ${items.join('; ')}`,
    MAX_NOTE_BYTES,
  );
}
