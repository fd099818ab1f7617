import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { configurationReference } from './configuration.ts';
import { troubleshootingGuide } from './troubleshooting.ts';

// `npm run docs`: writes the generated pages of docs/.
const docs = path.resolve(import.meta.dirname, '../../docs');
for (const [file, text] of [
  ['configuration.md', configurationReference()],
  ['troubleshooting.md', troubleshootingGuide()],
]) {
  writeFileSync(path.join(docs, file), text);
  console.log(`wrote docs/${file}`);
}
