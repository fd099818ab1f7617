import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crdFiles } from './crds.ts';

// Writes crds/ from the zod schemas (`npm run crds`); crds.test.ts fails when the committed files drift.
const crdDir = path.resolve(import.meta.dirname, '../../crds');
const files = crdFiles();

for (const name of readdirSync(crdDir)) {
  if (name.endsWith('.yaml') && !files.has(name)) rmSync(path.join(crdDir, name));
}
for (const [name, text] of files) {
  writeFileSync(path.join(crdDir, name), text);
  console.log(`wrote crds/${name}`);
}
