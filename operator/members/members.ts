import { Member } from '../api/dingtalk-service.ts';
import { locateHeader, MembersImportError } from './columns.ts';

/** One imported row, as it is written to the ConfigMap: a userId and/or a mobile, and a name for display. */
export interface ImportedMember {
  userId: string;
  name: string;
  mobile: string;
}

function cell(row: readonly string[], index: number | undefined): string {
  return index === undefined ? '' : (row[index] ?? '').trim();
}

/**
 * The members in an export's rows (cells as text). Blank rows are skipped; a row with a name but neither
 * userId nor mobile, or with a value DingTalk would not accept, is an error naming its row number as a
 * spreadsheet shows it, so nobody silently drops off the on-call list.
 */
export function membersFromRows(rows: readonly (readonly string[])[]): ImportedMember[] {
  const { row: headerRow, columns } = locateHeader(rows);
  const members: ImportedMember[] = [];
  const problems: string[] = [];
  for (const [offset, row] of rows.slice(headerRow + 1).entries()) {
    const member = {
      userId: cell(row, columns.userId),
      name: cell(row, columns.name),
      mobile: cell(row, columns.mobile),
    };
    if (!member.userId && !member.name && !member.mobile) continue;
    const problem = memberProblem(member);
    if (problem) problems.push(`row ${headerRow + offset + 2}: ${problem}`);
    else members.push(member);
  }
  if (problems.length > 0) throw new MembersImportError(problems.join('\n'));
  return members;
}

/** What the DingTalkService schema would reject in this row, or undefined. */
export function memberProblem(member: ImportedMember): string | undefined {
  if (!member.userId && !member.mobile) return 'neither a userId nor a mobile';
  const checks: Member[] = [];
  if (member.userId) checks.push({ userId: member.userId, name: member.name || undefined });
  if (member.mobile) checks.push({ mobile: member.mobile, name: member.name || undefined });
  for (const check of checks) {
    const result = Member.safeParse(check);
    if (!result.success) {
      const issue = result.error.issues[0];
      return `${issue?.path.join('.') ?? 'member'} ${issue?.message ?? 'is invalid'}`;
    }
  }
  return undefined;
}
