import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configurationReference } from '../../charts/reference/configuration.ts';
import { configSchema } from '../../operator/config.ts';
import { receiverConfigSchema } from '../../operator/receiver/config.ts';
import { repoRoot } from './helm.ts';

const committed = readFileSync(path.join(repoRoot, 'docs/configuration.md'), 'utf8');

describe('docs/configuration.md', () => {
  it('is what charts/reference generates now (run `npm run docs` when not)', () => {
    expect(committed).toBe(configurationReference());
  });

  it('lists every flag and environment variable of the operator and the receiver', () => {
    for (const schema of [configSchema, receiverConfigSchema]) {
      for (const field of Object.values(schema.shape)) {
        const { flag, env } = field.meta() as { flag: string; env?: string };
        expect(committed).toContain(`| \`${flag}\` | ${env ? `\`${env}\`` : ''} |`);
      }
    }
  });
});
