import type { Severity } from '../api/index.ts';

/**
 * Maps the severity spellings found in Alertmanager and Grafana rules onto the three AlarmEvent
 * severities. Unknown or missing ones become warning: loud enough to be seen, not enough to page.
 */
const SPELLINGS: Record<Severity, readonly string[]> = {
  critical: [
    'critical',
    'crit',
    'fatal',
    'emergency',
    'emerg',
    'alert',
    'page',
    'error',
    'err',
    'high',
    'disaster',
    'p0',
    'p1',
  ],
  warning: ['warning', 'warn', 'medium', 'average', 'major', 'minor', 'p2', 'p3'],
  info: ['info', 'informational', 'information', 'notice', 'low', 'none', 'debug', 'ok', 'p4', 'p5'],
};

const BY_SPELLING = new Map<string, Severity>(
  (Object.entries(SPELLINGS) as [Severity, readonly string[]][]).flatMap(([severity, spellings]) =>
    spellings.map((spelling) => [spelling, severity] as const),
  ),
);

export function severityOf(labels: Readonly<Record<string, string>>): Severity {
  const raw = labels.severity ?? labels.priority ?? '';
  return BY_SPELLING.get(raw.trim().toLowerCase()) ?? 'warning';
}
