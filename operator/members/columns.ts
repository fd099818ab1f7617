/**
 * Where the member columns sit in a DingTalk contacts export. The export's column order and the rows
 * above the header (a title, filling instructions) are not documented, so columns are found by their
 * header text, Chinese or English, and the header row is the first row that names one of them.
 */

/** Header texts accepted for each column, compared ignoring spaces and case. */
export const COLUMN_HEADERS = {
  userId: ['UserId', 'User ID', 'user_id', '员工UserID', '用户ID', '员工ID'],
  mobile: ['手机', '手机号', '手机号码', 'Mobile', 'Phone', '电话'],
  name: ['姓名', '名字', 'Name'],
} as const;

export type Column = keyof typeof COLUMN_HEADERS;

/** Column indexes, zero-based; a column the header does not name is undefined. */
export type ColumnIndexes = Record<Column, number | undefined>;

export interface HeaderLocation {
  /** Zero-based index of the header row. */
  row: number;
  columns: ColumnIndexes;
}

/** How many leading rows may hold titles or instructions before the header. */
const HEADER_SEARCH_ROWS = 10;

export class MembersImportError extends Error {
  override name = 'MembersImportError';
}

function normalise(text: string): string {
  return text.replace(/\s+/g, '').toLowerCase();
}

const ACCEPTED = Object.fromEntries(
  Object.entries(COLUMN_HEADERS).map(([column, headers]) => [column, new Set(headers.map(normalise))]),
) as Record<Column, Set<string>>;

function columnsOf(row: readonly string[]): ColumnIndexes {
  const find = (column: Column) => {
    const index = row.findIndex((cell) => ACCEPTED[column].has(normalise(cell)));
    return index === -1 ? undefined : index;
  };
  return { userId: find('userId'), mobile: find('mobile'), name: find('name') };
}

function accepted(column: Column): string {
  return COLUMN_HEADERS[column].map((header) => `"${header}"`).join(', ');
}

/** Finds the header row; throws naming the columns it looked for when no row names a userId or mobile. */
export function locateHeader(rows: readonly (readonly string[])[]): HeaderLocation {
  for (const [index, row] of rows.slice(0, HEADER_SEARCH_ROWS).entries()) {
    const columns = columnsOf(row);
    if (columns.userId !== undefined || columns.mobile !== undefined) return { row: index, columns };
  }
  throw new MembersImportError(
    `no userId column and no mobile column found in the first ${HEADER_SEARCH_ROWS} rows: ` +
      `a member needs one of them. userId column headers: ${accepted('userId')}; ` +
      `mobile column headers: ${accepted('mobile')}`,
  );
}
