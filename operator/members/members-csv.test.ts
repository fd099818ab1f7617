import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { formatMembersCsv, membersConfigMapYaml, parseMembersCsv } from './members-csv.ts';

const example = readFileSync(path.resolve(import.meta.dirname, '../../examples/member-service.yaml'), 'utf8');
const exampleCsv = parseAllDocuments(example)[0]?.toJS().data['members.csv'] as string;

describe('the membersFrom CSV', () => {
  it('is written in the layout of examples/member-service.yaml', () => {
    const members = parseMembersCsv(exampleCsv).length;
    expect(members).toBe(3);
    expect(
      formatMembersCsv([
        { userId: 'manager4021', name: 'Li Lei', mobile: '' },
        { userId: '', name: 'Han Meimei', mobile: '+86-13800000002' },
        { userId: '0123456789', name: 'Wang Fang', mobile: '13800000003' },
      ]),
    ).toBe(exampleCsv);
  });

  it('reads back as members of the DingTalkService schema, by userId when a row has both', () => {
    expect(parseMembersCsv(exampleCsv)).toEqual([
      { userId: 'manager4021', name: 'Li Lei' },
      { mobile: '+86-13800000002', name: 'Han Meimei' },
      { userId: '0123456789', name: 'Wang Fang' },
    ]);
  });

  it('quotes names with commas, quotes or surrounding spaces so they read back unchanged', () => {
    const members = [{ userId: 'u1', name: 'Li, "Lei"', mobile: '' }];
    expect(parseMembersCsv(formatMembersCsv(members))).toEqual([{ userId: 'u1', name: 'Li, "Lei"' }]);
  });

  it('is wrapped in a ConfigMap with the chosen name, namespace and key', () => {
    const yaml = membersConfigMapYaml([{ userId: 'u1', name: 'A', mobile: '' }], {
      name: 'oncall',
      namespace: 'ops',
      key: 'team.csv',
    });
    expect(parseYaml(yaml)).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'oncall',
        namespace: 'ops',
        labels: { 'app.kubernetes.io/part-of': 'dingtalk-operator' },
      },
      data: { 'team.csv': 'userId,name,mobile\nu1,A,\n' },
    });
  });
});
