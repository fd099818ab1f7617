import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { parseMembersCsv } from '../targets/members-csv.ts';
import { formatMembersCsv, membersConfigMapYaml } from './members-csv.ts';

const example = readFileSync(path.resolve(import.meta.dirname, '../../examples/member-service.yaml'), 'utf8');
const exampleCsv = parseAllDocuments(example)[0]?.toJS().data['members.csv'] as string;

describe('the membersFrom CSV', () => {
  it('is written in the layout of examples/member-service.yaml', () => {
    expect(
      formatMembersCsv([
        { userId: 'manager4021', name: 'Li Lei', mobile: '' },
        { userId: '', name: 'Han Meimei', mobile: '+86-13800000002' },
        { userId: '0123456789', name: 'Wang Fang', mobile: '13800000003' },
      ]),
    ).toBe(exampleCsv);
  });

  it("reads back through the operator's membersFrom parser", () => {
    const members = [
      { userId: 'manager4021', name: 'Li Lei', mobile: '' },
      { userId: '', name: 'Han Meimei', mobile: '+86-13800000002' },
    ];
    expect(parseMembersCsv(formatMembersCsv(members))).toEqual({
      ok: true,
      members: [
        { userId: 'manager4021', name: 'Li Lei' },
        { mobile: '+86-13800000002', name: 'Han Meimei' },
      ],
    });
  });

  it('quotes names with commas or quotes so they read back unchanged', () => {
    const members = [{ userId: 'u1', name: 'Li, "Lei"', mobile: '' }];
    expect(parseMembersCsv(formatMembersCsv(members))).toEqual({
      ok: true,
      members: [{ userId: 'u1', name: 'Li, "Lei"' }],
    });
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
