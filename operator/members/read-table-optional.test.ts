import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { minimalXlsx } from '../../test/support/xlsx.ts';

// The image leaves out the optional dependency read-excel-file; here it is made unloadable the same way.
vi.mock('read-excel-file/node', () => {
  throw new Error("Cannot find package 'read-excel-file'");
});

describe('readTable without the optional read-excel-file', () => {
  it('still reads CSV, and refuses XLSX naming the package and the CSV way round', async () => {
    const { readTable } = await import('./read-table.ts');
    const dir = mkdtempSync(path.join(tmpdir(), 'members-'));
    const csv = path.join(dir, 'contacts.csv');
    writeFileSync(csv, 'userId,name\nmanager4021,Li Lei\n');
    expect(await readTable(csv)).toEqual([
      ['userId', 'name'],
      ['manager4021', 'Li Lei'],
    ]);
    const xlsx = path.join(dir, 'contacts.xlsx');
    writeFileSync(xlsx, minimalXlsx([['userId'], ['manager4021']]));
    await expect(readTable(xlsx)).rejects.toThrow(/read-excel-file.*save the export as CSV/);
  });
});
