import { describe, expect, it } from 'vitest';
import { rejectionNote } from './rejections.ts';

describe('rejectionNote', () => {
  it('names each rejected alert by path and fingerprint, with why', () => {
    const note = rejectionNote({
      namespace: 'monitoring',
      kind: 'alertmanager',
      total: 3,
      rejected: [
        {
          path: 'alerts[1]',
          fingerprint: 'a1b2',
          issues: [{ path: 'alerts[1].startsAt', message: 'must be an RFC 3339 timestamp' }],
        },
      ],
    });
    expect(note).toBe(
      '1 of 3 alerts sent by Alertmanager were not stored and will not be retried: alerts[1] (fingerprint a1b2): alerts[1].startsAt must be an RFC 3339 timestamp',
    );
  });

  it('stays within the 1 KiB an Event note may hold', () => {
    const rejected = Array.from({ length: 100 }, (_, i) => ({
      path: `alerts[${i}]`,
      issues: [{ path: `alerts[${i}].labels.pod`, message: 'label value must be at most 1024 characters' }],
    }));
    const note = rejectionNote({ namespace: 'monitoring', kind: 'grafana', total: 100, rejected });
    expect(Buffer.byteLength(note)).toBeLessThanOrEqual(1024);
    expect(note.startsWith('100 of 100 alerts sent by Grafana')).toBe(true);
    expect(note.endsWith('…')).toBe(true);
  });
});
