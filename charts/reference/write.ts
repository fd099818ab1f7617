import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { configurationReference } from './configuration.ts';

// `npm run docs`: writes docs/configuration.md.
writeFileSync(path.resolve(import.meta.dirname, '../../docs/configuration.md'), configurationReference());
console.log('wrote docs/configuration.md');
