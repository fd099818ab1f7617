import { stringify } from 'yaml';
import { PART_OF_LABEL } from '../api/group.ts';
import type { ImportedMember } from './members.ts';

/**
 * The text a DingTalkService's `membersFrom` ConfigMap key holds (see examples/member-service.yaml): CSV
 * with the header `userId,name,mobile`, one member a row, a userId and/or a mobile in each. The operator
 * reads it with operator/targets/members-csv.ts.
 */

const HEADER = ['userId', 'name', 'mobile'] as const;

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function formatMembersCsv(members: readonly ImportedMember[]): string {
  const lines = [HEADER.join(','), ...members.map((m) => HEADER.map((key) => csvField(m[key])).join(','))];
  return `${lines.join('\n')}\n`;
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
