import { stringify } from 'yaml';
import type { Member } from '../api/dingtalk-service.ts';
import { PART_OF_LABEL } from '../api/group.ts';
import { type ImportedMember, membersFromRows } from './members.ts';
import { parseCsv } from './read-table.ts';

/**
 * The text a DingTalkService's `membersFrom` ConfigMap key holds (see examples/member-service.yaml): CSV
 * with the header `userId,name,mobile`, one member a row, a userId and/or a mobile in each.
 */

const HEADER = ['userId', 'name', 'mobile'] as const;

function csvField(value: string): string {
  return /[",\r\n]/.test(value) || value !== value.trim() ? `"${value.replaceAll('"', '""')}"` : value;
}

export function formatMembersCsv(members: readonly ImportedMember[]): string {
  const lines = [HEADER.join(','), ...members.map((m) => HEADER.map((key) => csvField(m[key])).join(','))];
  return `${lines.join('\n')}\n`;
}

/** Reads a membersFrom key as the operator does: by header, so any column order (and extra columns) works. */
export function parseMembersCsv(text: string): Member[] {
  const rows = parseCsv(text);
  // A row with both identifiers is sent by userId: a mobile would need a lookup to reach the same person.
  return membersFromRows(rows).map(({ userId, mobile, name }) => ({
    ...(userId ? { userId } : { mobile }),
    ...(name ? { name } : {}),
  }));
}

export interface MembersConfigMapOptions {
  name: string;
  namespace?: string;
  key: string;
}

/** The ConfigMap manifest, as YAML, holding the members under `key`. */
export function membersConfigMapYaml(members: readonly ImportedMember[], options: MembersConfigMapOptions) {
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: options.name,
      ...(options.namespace ? { namespace: options.namespace } : {}),
      labels: { ...PART_OF_LABEL },
    },
    data: { [options.key]: formatMembersCsv(members) },
  };
  return stringify(configMap, { lineWidth: 0 });
}
