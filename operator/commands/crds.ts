import { stringify } from 'yaml';
import { customResourceDefinitions } from '../api/crds.ts';

/** Prints every CRD as one multi-document YAML stream: `dingtalk-operator crds | kubectl apply -f -`. */
export async function main(args: string[]): Promise<void> {
  if (args.length > 0) {
    process.stderr.write('usage: dingtalk-operator crds\n');
    process.exitCode = 2;
    return;
  }
  const documents = customResourceDefinitions().map((crd) => stringify(crd, { lineWidth: 0 }));
  process.stdout.write(`---\n${documents.join('---\n')}`);
}
