import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { chartDir, helm, repoRoot } from './helm.ts';

// Argo CD's Application CRD is not installed on the test control plane (test/api's examples test skips
// examples/argocd/ for that reason), so this checks what the Application asks of this repository: the
// chart path exists and the values it passes render with the chart's values schema.
const application = parse(readFileSync(path.join(repoRoot, 'examples/argocd/application.yaml'), 'utf8'));

describe('examples/argocd/application.yaml', () => {
  it('points at the chart and installs into the namespace the receiver URL in the examples uses', () => {
    expect(path.resolve(repoRoot, application.spec.source.path)).toBe(chartDir);
    expect(application.spec.destination.namespace).toBe('dingtalk-operator');
    expect(application.spec.source.helm.releaseName).toBe('dingtalk-operator');
  });

  it("passes values the chart's schema accepts", async () => {
    const values = path.join(mkdtempSync(path.join(tmpdir(), 'argocd-')), 'values.yaml');
    writeFileSync(values, stringify(application.spec.source.helm.valuesObject));
    const rendered = await helm([
      'template',
      'dingtalk-operator',
      chartDir,
      '-n',
      'dingtalk-operator',
      '-f',
      values,
    ]);
    expect(rendered).toContain('image: registry.example.com/platform/dingtalk-operator:0.1.0');
  });
});
