import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { AlarmEvent, AlarmRule, DingTalkService, GROUP } from '../../operator/api/index.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');

// Argo CD's health checks for the three kinds, laid out as in Argo CD's resource_customizations/
// (<group>/<kind>/health.lua, health_test.yaml, testdata/), and run by test/argocd/lua-health in
// gopher-lua with only the libraries Argo CD opens for argocd-cm scripts.
const healthDir = path.join(repoRoot, 'examples/argocd/health', GROUP);
const schemas = { DingTalkService, AlarmRule, AlarmEvent } as const;
type Kind = keyof typeof schemas;
const kinds = Object.keys(schemas) as Kind[];

interface HealthTest {
  inputPath: string;
  healthStatus: { status: string; message: string };
}

const runner = execFileSync('bash', [path.join(repoRoot, 'test/argocd/lua-health/build.sh')], {
  encoding: 'utf8',
}).trim();

function runHealth(
  cases: { script: string; object: unknown }[],
): { status?: string; message?: string; error?: string }[] {
  return JSON.parse(execFileSync(runner, { input: JSON.stringify(cases), encoding: 'utf8' }));
}

const script = (kind: Kind) => readFileSync(path.join(healthDir, kind, 'health.lua'), 'utf8');
const fixture = (kind: Kind, inputPath: string) =>
  parse(readFileSync(path.join(healthDir, kind, inputPath), 'utf8'));
const healthTests = (kind: Kind): HealthTest[] =>
  parse(readFileSync(path.join(healthDir, kind, 'health_test.yaml'), 'utf8')).tests;

describe.each(kinds)('the Argo CD health check of %s', (kind) => {
  const tests = healthTests(kind);

  it('gives every fixture of its health_test.yaml the health status and message listed there', () => {
    const results = runHealth(
      tests.map((t) => ({ script: script(kind), object: fixture(kind, t.inputPath) })),
    );
    expect(tests.map((t, i) => ({ inputPath: t.inputPath, ...results[i] }))).toEqual(
      tests.map((t) => ({ inputPath: t.inputPath, ...t.healthStatus })),
    );
  });

  it('is tested on every fixture, and every fixture is an object the CRD schema accepts', () => {
    const files = readdirSync(path.join(healthDir, kind, 'testdata')).map((f) => `testdata/${f}`);
    expect(tests.map((t) => t.inputPath).sort()).toEqual(files.sort());
    for (const file of files) {
      const result = schemas[kind].safeParse(fixture(kind, file));
      expect(result.error, file).toBeUndefined();
    }
  });
});

describe('the health checks under Argo CD', () => {
  it('fail loudly rather than guess when the status is malformed', () => {
    const [result] = runHealth([
      { script: script('DingTalkService'), object: { metadata: {}, status: { conditions: 'Ready' } } },
    ]);
    expect(result?.error).toMatch(/ipairs|table/);
  });

  it('are what examples/argocd/argocd-cm.yaml gives argocd-cm, one key per kind', () => {
    const document = parseDocument(
      readFileSync(path.join(repoRoot, 'examples/argocd/argocd-cm.yaml'), 'utf8'),
    );
    const configMap = document.toJS();
    expect(configMap.metadata).toMatchObject({ name: 'argocd-cm', namespace: 'argocd' });
    expect(configMap.data).toEqual(
      Object.fromEntries(
        kinds.map((kind) => [`resource.customizations.health.${GROUP}_${kind}`, script(kind)]),
      ),
    );
  });
});
