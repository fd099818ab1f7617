import { parseArgs } from 'node:util';
import { ConfigMapKeyRef } from '../api/refs.ts';
import { MembersImportError } from '../members/columns.ts';
import { membersFromRows } from '../members/members.ts';
import { membersConfigMapYaml } from '../members/members-csv.ts';
import { readTable } from '../members/read-table.ts';

const USAGE = `usage: dingtalk-operator import-members FILE [--name NAME] [--namespace NAMESPACE] [--key KEY]

Reads a DingTalk contacts export (XLSX or CSV; the userId, mobile and name columns are found by their
headers, Chinese or English) and prints a ConfigMap for a DingTalkService's spec.member.membersFrom.

  --name        ConfigMap name (default: dingtalk-members)
  --namespace   ConfigMap namespace (default: none, so kubectl apply uses its current namespace)
  --key         data key holding the members (default: members.csv)
`;

export async function main(args: string[]): Promise<void> {
  let values: { name: string; namespace?: string; key: string };
  let file: string | undefined;
  try {
    const parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        name: { type: 'string', default: 'dingtalk-members' },
        namespace: { type: 'string' },
        key: { type: 'string', default: 'members.csv' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (parsed.values.help) {
      process.stdout.write(USAGE);
      return;
    }
    if (parsed.positionals.length !== 1) throw new Error('give exactly one FILE');
    file = parsed.positionals[0];
    const ref = ConfigMapKeyRef.safeParse({ name: parsed.values.name, key: parsed.values.key });
    if (!ref.success) {
      const issue = ref.error.issues[0];
      throw new Error(`--${String(issue?.path[0])} ${issue?.message}`);
    }
    values = { ...parsed.values, ...ref.data };
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  try {
    const members = membersFromRows(await readTable(file as string));
    process.stdout.write(membersConfigMapYaml(members, values));
    process.stderr.write(`${members.length} members read from ${file}\n`);
  } catch (err) {
    if (!(err instanceof MembersImportError) && (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    process.stderr.write(`import-members: ${file}: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
