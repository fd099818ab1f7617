import { describe, expect, it } from 'vitest';
import { referencedConfigMaps, referencedSecrets } from './references.ts';

describe('references', () => {
  it('names every Secret of the groups, their pools’ robots and the member app', () => {
    const obj = {
      spec: {
        groups: [
          { webhook: { name: 'robot-a', key: 'url' }, signature: { name: 'robot-a', key: 'sec' } },
          { webhook: { name: 'robot-b', key: 'url' } },
          {
            robots: [
              { webhook: { name: 'pool', key: 'a' }, signature: { name: 'pool-signing', key: 'a' } },
              { webhook: { name: 'pool', key: 'b' } },
            ],
          },
        ],
        member: { clientSecret: { name: 'app', key: 'secret' }, membersFrom: { name: 'people', key: 'csv' } },
      },
    };
    expect(referencedSecrets(obj)).toEqual(new Set(['robot-a', 'robot-b', 'pool', 'pool-signing', 'app']));
    expect(referencedConfigMaps(obj)).toEqual(new Set(['people']));
  });

  it('reads a malformed spec without throwing', () => {
    expect(referencedSecrets({ spec: { groups: 'nope', member: { clientSecret: 7 } } })).toEqual(new Set());
    expect(referencedSecrets({ spec: { groups: [{ robots: 'nope' }, null] } })).toEqual(new Set());
    expect(referencedConfigMaps({})).toEqual(new Set());
  });

  it('works them out once per spec object, which a status write leaves in place', () => {
    const spec = {
      groups: [{ webhook: { name: 'robot', key: 'url' } }],
      member: { membersFrom: { name: 'people' } },
    };
    const secrets = referencedSecrets({ spec });
    const statusWritten = { spec, status: { written: true } };
    expect(referencedSecrets(statusWritten)).toBe(secrets);
    expect(referencedConfigMaps(statusWritten)).toBe(referencedConfigMaps({ spec }));
    expect(referencedSecrets({ spec: structuredClone(spec) })).not.toBe(secrets);
  });
});
