import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseAlarmEvent, parseAlarmRule, parseDingTalkService } from './parse.ts';

const examplesDir = path.resolve(import.meta.dirname, '../../examples');
const parsers: Record<string, (obj: unknown) => unknown> = {
  DingTalkService: parseDingTalkService,
  AlarmRule: parseAlarmRule,
  AlarmEvent: parseAlarmEvent,
};

const customResources = readdirSync(examplesDir)
  .filter((name) => name.endsWith('.yaml'))
  .flatMap((file) =>
    parseAllDocuments(readFileSync(path.join(examplesDir, file), 'utf8'))
      .map((doc) => doc.toJS() as { kind: string; metadata: { name: string } })
      .filter((obj) => obj.kind in parsers)
      .map((obj) => [`${file}: ${obj.kind} ${obj.metadata.name}`, obj] as const),
  );

describe('examples', () => {
  it('include every kind', () => {
    expect(new Set(customResources.map(([, obj]) => obj.kind))).toEqual(new Set(Object.keys(parsers)));
  });

  it.each(customResources)('%s parses with its schema', (_, obj) => {
    expect(() => parsers[obj.kind](obj)).not.toThrow();
  });
});
