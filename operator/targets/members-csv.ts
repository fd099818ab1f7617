import { parse } from 'csv-parse/sync';

/** One member of an app robot's audience: a DingTalk userId, or a mobile still to be resolved. */
export interface MemberEntry {
  userId?: string | undefined;
  mobile?: string | undefined;
  name?: string | undefined;
}

export type MembersCsvResult = { ok: true; members: MemberEntry[] } | { ok: false; error: string };

const COLUMNS = { userId: 'userid', mobile: 'mobile', name: 'name' } as const;

/**
 * Reads the `membersFrom` format: CSV text whose header row names a userId and/or a mobile column
 * (case-insensitive), optionally name. Rows with neither userId nor mobile are reported, not skipped,
 * so a broken import does not silently shrink the audience.
 */
export function parseMembersCsv(text: string): MembersCsvResult {
  let rows: string[][];
  try {
    rows = parse(text, { bom: true, skip_empty_lines: true, relax_column_count: true, trim: true });
  } catch (err) {
    // csv-parse's messages quote the offending field; the code and line say enough without the data.
    const { code, lines } = err as { code?: unknown; lines?: unknown };
    const where = typeof lines === 'number' ? ` on line ${lines}` : '';
    return { ok: false, error: `not valid CSV${where}${typeof code === 'string' ? ` (${code})` : ''}` };
  }
  const [header, ...data] = rows;
  if (!header) return { ok: true, members: [] };
  const index = (column: string) => header.findIndex((cell) => cell.toLowerCase() === column);
  const userIdAt = index(COLUMNS.userId);
  const mobileAt = index(COLUMNS.mobile);
  const nameAt = index(COLUMNS.name);
  if (userIdAt === -1 && mobileAt === -1) {
    return {
      ok: false,
      // The row's cells are not quoted: the ConfigMap may hold something else, and status is widely readable.
      error: `the header row needs a userId or a mobile column (it has ${header.length} column(s), none named so)`,
    };
  }
  const members: MemberEntry[] = [];
  for (const [i, row] of data.entries()) {
    const cell = (at: number) => (at === -1 ? undefined : row[at] || undefined);
    const userId = cell(userIdAt);
    const mobile = cell(mobileAt);
    if (!userId && !mobile) return { ok: false, error: `row ${i + 2} has neither userId nor mobile` };
    members.push(userId ? { userId, name: cell(nameAt) } : { mobile, name: cell(nameAt) });
  }
  return { ok: true, members };
}
