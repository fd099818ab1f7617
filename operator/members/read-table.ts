import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import type { SheetData } from 'read-excel-file/node';
import { MembersImportError } from './columns.ts';

/** An XLSX file is a zip archive, which starts with these bytes whatever the file is called. */
const ZIP_MAGIC = Buffer.from('PK\x03\x04', 'latin1');

/** Every cell of the file's first sheet (XLSX) or of the CSV, as text; empty cells are ''. */
export async function readTable(file: string): Promise<string[][]> {
  const bytes = await readFile(file);
  if (bytes.subarray(0, 4).equals(ZIP_MAGIC)) return readXlsx(bytes);
  return parseCsv(bytes);
}

function parseCsv(bytes: Buffer | string): string[][] {
  try {
    return parse(bytes, { bom: true, relax_column_count: true, skip_empty_lines: true });
  } catch (err) {
    throw new MembersImportError(`not a readable CSV file: ${(err as Error).message}`);
  }
}

async function readXlsx(bytes: Buffer): Promise<string[][]> {
  // An optional dependency, loaded only here: the operator's image leaves it out (its pods never read XLSX).
  const reader = await import('read-excel-file/node').catch(() => undefined);
  if (!reader) {
    throw new MembersImportError(
      'reading XLSX needs the optional package read-excel-file, which is not installed here (the image leaves it out): save the export as CSV, or run import-members from a checkout',
    );
  }
  let rows: SheetData;
  try {
    rows = await reader.readSheet(bytes);
  } catch (err) {
    throw new MembersImportError(`not a readable XLSX file: ${(err as Error).message}`);
  }
  // Mobiles and numeric userIds may be stored as numbers; their text is what DingTalk shows.
  return rows.map((row) => row.map((value) => (value === null ? '' : String(value))));
}
