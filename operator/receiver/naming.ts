import { createHash } from 'node:crypto';

/**
 * AlarmEvent names are a function of the alarm's identity (fingerprint) and occurrence (startsAt) only,
 * so a retried or repeated notification maps onto the same object: its create answers 409 and its
 * resolution patches the event the firing notification created.
 *
 * `fp-<fingerprint>-<startsAt in epoch ms>` when the fingerprint is usable in a name as it is (Alertmanager's
 * and Grafana's are 16 hex digits), so `kubectl get ae | grep <fingerprint>` finds it;
 * `fh-<sha256 of the fingerprint, 24 hex>-<ms>` otherwise. The two prefixes keep the schemes apart.
 */

const NAME_SAFE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function alarmEventName(fingerprint: string, startsAt: string): string {
  const millis = Math.max(0, Date.parse(startsAt));
  if (NAME_SAFE.test(fingerprint)) return `fp-${fingerprint}-${millis}`;
  return `fh-${sha256(fingerprint).slice(0, 24)}-${millis}`;
}

/**
 * A fingerprint for alarms that bring none: from the labels (sorted), as Alertmanager derives its own;
 * from title and source when there are no labels, so different unlabelled alarms stay apart.
 */
export function deriveFingerprint(
  labels: Readonly<Record<string, string>>,
  title: string,
  source = '',
): string {
  const entries = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const identity = entries.length > 0 ? JSON.stringify(entries) : JSON.stringify(['', title, source]);
  return sha256(identity).slice(0, 16);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
