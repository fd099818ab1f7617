import { describe, expect, it } from 'vitest';
import { formatDuration, slowestFilesTable } from './slowest-files-reporter.ts';

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
