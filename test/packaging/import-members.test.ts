import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMembersCsv } from '../../operator/targets/members-csv.ts';
import { createTestNamespace, kubectl } from '../support/kube.ts';
import { minimalXlsx } from '../support/xlsx.ts';
import { repoRoot } from './helm.ts';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'import-members-'));

/** `dingtalk-operator import-members …` as a user runs it; resolves with its output and exit code. */
async function importMembers(args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [
      path.join(repoRoot, 'operator/cli.ts'),
      'import-members',
      ...args,
    ]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const { code, stdout, stderr } = err as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

// A contacts export as the admin console lays it out: a title row, then the header, then members.
const EXPORT = [
  ['通讯录导出（运维部）'],
  ['员工UserID', '姓名', '部门', '职位', '手机'],
  ['manager4021', '李雷', '运维部', '值班长', '+86-13800000001'],
  ['', '韩梅梅', '运维部', '工程师', '13800000002'],
  ['0123456789', 'Wang, Fang', '运维部', '工程师', ''],
];

const SERVICE = (namespace: string, configMap: string) => `
apiVersion: dingtalk.alarming.io/v1alpha1
kind: DingTalkService
metadata: { name: ${configMap}, namespace: ${namespace} }
spec:
  sendTo: [Member]
  member:
    clientId: dingpackagingtest
    clientSecret: { name: dingtalk-app, key: client-secret }
    membersFrom: { name: ${configMap}, key: oncall.csv }
`;

let namespace: Awaited<ReturnType<typeof createTestNamespace>>;
beforeAll(async () => {
  namespace = await createTestNamespace('pkg-members');
});
afterAll(() => namespace.cleanup());

describe('import-members', () => {
  const files = {
    csv: () => {
      const file = path.join(dir, 'contacts.csv');
      writeFileSync(
        file,
        `\uFEFF${EXPORT.map((row) => row.map((c) => (c.includes(',') ? `"${c}"` : c)).join(',')).join('\r\n')}`,
      );
      return file;
    },
    xlsx: () => {
      const file = path.join(dir, 'contacts.xlsx');
      writeFileSync(file, minimalXlsx(EXPORT));
      return file;
    },
  };

  it.each(Object.keys(files) as (keyof typeof files)[])(
    'turns a contacts export (%s) into a ConfigMap the API server stores and the operator reads as membersFrom',
    async (format) => {
      const name = `oncall-${format}`;
      const result = await importMembers([
        files[format](),
        '--name',
        name,
        '--namespace',
        namespace.name,
        '--key',
        'oncall.csv',
      ]);
      expect(result).toMatchObject({ code: 0, stderr: expect.stringMatching(/3 members read/) });

      expect(await kubectl(['apply', '-f', '-'], result.stdout)).toMatch(`configmap/${name} created`);
      expect(await kubectl(['apply', '-f', '-'], SERVICE(namespace.name, name))).toMatch(
        `dingtalkservice.dingtalk.alarming.io/${name} created`,
      );
      const stored = JSON.parse(
        await kubectl(['get', 'configmap', name, '-n', namespace.name, '-o', 'json']),
      );
      expect(parseMembersCsv(stored.data['oncall.csv'])).toEqual({
        ok: true,
        members: [
          { userId: 'manager4021', name: '李雷' },
          { mobile: '13800000002', name: '韩梅梅' },
          { userId: '0123456789', name: 'Wang, Fang' },
        ],
      });
    },
  );

  it('fails naming the missing columns, and prints no ConfigMap', async () => {
    const file = path.join(dir, 'no-ids.csv');
    writeFileSync(file, '姓名,部门\n李雷,运维部\n');
    const result = await importMembers([file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/no userId column and no mobile column/);
  });
});
