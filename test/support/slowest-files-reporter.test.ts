import { describe, expect, it } from 'vitest';
import { failuresList, formatDuration, slowestFilesTable } from './slowest-files-reporter.ts';

describe('slowestFilesTable', () => {
  it('lists the slowest files first, with project and wall time, as an aligned markdown table', () => {
    const table = slowestFilesTable([
      { file: 'operator/a.test.ts', project: 'unit', ms: 42 },
      { file: 'test/packaging/rbac.test.ts', project: 'integration', ms: 663_400 },
      { file: 'test/image/image.test.ts', project: 'image', ms: 12_345 },
    ]);
    expect(table.split('\n')).toEqual([
      '| File                        | Project     | Wall time |',
      '| --------------------------- | ----------- | --------: |',
      '| test/packaging/rbac.test.ts | integration |   663.4 s |',
      '| test/image/image.test.ts    | image       |    12.3 s |',
      '| operator/a.test.ts          | unit        |     42 ms |',
    ]);
  });

  it('keeps only the ten slowest files', () => {
    const files = Array.from({ length: 12 }, (_, i) => ({ file: `f${i}.test.ts`, project: 'unit', ms: i }));
    const rows = slowestFilesTable(files).split('\n').slice(2);
    expect(rows).toHaveLength(10);
    expect(rows[0]).toContain('f11.test.ts');
    expect(rows.at(-1)).toContain('f2.test.ts');
  });

  it('is a header alone when no file ran', () => {
    expect(slowestFilesTable([]).split('\n')).toHaveLength(2);
  });
});

describe('formatDuration', () => {
  it('gives milliseconds under a second and tenths of seconds from one second on', () => {
    expect(formatDuration(999.4)).toBe('999 ms');
    expect(formatDuration(1_000)).toBe('1.0 s');
    expect(formatDuration(1_250_049)).toBe('1250.0 s');
  });
});

describe('failuresList', () => {
  it('gives each failure one line naming the file, the test and the message flattened', () => {
    expect(
      failuresList([
        { file: 'test/a.test.ts', name: 'suite > delivers', message: 'expected 1\n  to be 2' },
        { file: 'test/b.test.ts', name: '', message: 'Cannot find module x' },
        { file: 'test/c.test.ts', name: 'hook', message: '' },
      ]).split('\n'),
    ).toEqual([
      'FAILED test/a.test.ts > suite > delivers: expected 1 to be 2',
      'FAILED test/b.test.ts: Cannot find module x',
      'FAILED test/c.test.ts > hook: (no message)',
    ]);
  });

  it('cuts a long message so a line stays readable at the end of a log', () => {
    const line = failuresList([{ file: 'f', name: 't', message: 'x'.repeat(1_000) }]);
    expect(line.length).toBeLessThan(400);
    expect(line.endsWith('…')).toBe(true);
  });
});
