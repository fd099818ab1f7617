import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crdFiles } from '../../operator/api/crds.ts';
import { installYaml, networkPolicyYaml } from './install.ts';

// `npm run manifests`: writes dist/install.yaml, dist/networkpolicy.yaml and the chart's crds/ (the same files as crds/).
// test/packaging fails when either is stale.
const repoRoot = path.resolve(import.meta.dirname, '../..');

const install = path.join(repoRoot, 'dist/install.yaml');
mkdirSync(path.dirname(install), { recursive: true });
writeFileSync(install, installYaml());
console.log('wrote dist/install.yaml');
writeFileSync(path.join(repoRoot, 'dist/networkpolicy.yaml'), networkPolicyYaml());
console.log('wrote dist/networkpolicy.yaml');

const chartCrds = path.join(repoRoot, 'charts/dingtalk-operator/crds');
const files = crdFiles();
for (const name of readdirSync(chartCrds)) {
  if (!files.has(name)) rmSync(path.join(chartCrds, name));
}
for (const [name, text] of files) {
  writeFileSync(path.join(chartCrds, name), text);
  console.log(`wrote charts/dingtalk-operator/crds/${name}`);
}
