import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { minimalXlsx } from '../../test/support/xlsx.ts';
import { MembersImportError } from './columns.ts';
import { readTable } from './read-table.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'members-'));
const rows = [['钉钉通讯录'], ['员工UserID', '姓名', '手机'], ['manager4021', '李雷', '13800000001']];

describe('readTable', () => {
  it('reads the first sheet of an XLSX export, whatever the file is called', async () => {
    const file = path.join(dir, 'contacts.bin');
    writeFileSync(file, minimalXlsx(rows));
    expect(await readTable(file)).toEqual([
      ['钉钉通讯录', '', ''],
      ['员工UserID', '姓名', '手机'],
      ['manager4021', '李雷', '13800000001'],
    ]);
  });

  it('reads a UTF-8 CSV export with a byte order mark and ragged rows', async () => {
    const file = path.join(dir, 'contacts.csv');
    writeFileSync(file, `\uFEFF${rows.map((row) => row.join(',')).join('\r\n')}\r\n`);
    expect(await readTable(file)).toEqual(rows);
  });

  it('says the file is not a readable CSV when it is not', async () => {
    const file = path.join(dir, 'broken.csv');
    writeFileSync(file, 'a,"b\n');
    await expect(readTable(file)).rejects.toThrow(MembersImportError);
    await expect(readTable(file)).rejects.toThrow(/not a readable CSV file/);
  });
});
