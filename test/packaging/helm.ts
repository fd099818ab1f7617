import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { parseAllDocuments } from 'yaml';

const run = promisify(execFile);

export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const chartDir = path.join(repoRoot, 'charts/dingtalk-operator');

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** Runs the pinned helm; resolves with stdout, rejects with an error whose message holds stderr. */
export async function helm(args: string[]): Promise<string> {
  try {
    return (await run(inject('helm'), args, { maxBuffer: 64 << 20 })).stdout;
  } catch (err) {
    const { stderr } = err as { stderr?: string };
    throw new Error(stderr?.trim() || String(err));
  }
}

export interface RenderOptions {
  release: string;
  namespace: string;
  /** `--set` expressions. */
  set?: string[];
  includeCrds?: boolean;
}

/** `helm template` of the chart, as YAML text. */
export function renderChart({ release, namespace, set = [], includeCrds = false }: RenderOptions) {
  return helm([
    'template',
    release,
    chartDir,
    '--namespace',
    namespace,
    ...set.flatMap((expression) => ['--set', expression]),
    ...(includeCrds ? ['--include-crds'] : []),
  ]);
}

export function parseManifests(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((document) => document.toJS() as KubeObject | null)
    .filter((object): object is KubeObject => object !== null);
}

export function objectKey(object: KubeObject): string {
  return `${object.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`;
}

export function find(objects: readonly KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!found)
    throw new Error(`no ${kind}${name ? ` ${name}` : ''} among ${objects.map(objectKey).join(', ')}`);
  return found;
}
