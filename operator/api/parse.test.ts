import { describe, expect, it } from 'vitest';
import { fieldPath, InvalidResourceError, parseDingTalkService } from './parse.ts';

describe('parse helpers', () => {
  it('spell paths as the API server does', () => {
    expect(fieldPath(['spec', 'groups', 1, 'webhook', 'key'])).toBe('spec.groups[1].webhook.key');
  });

  it('report every offending field with the object it belongs to', () => {
    const obj = {
      apiVersion: 'dingtalk.alarming.io/v1alpha1',
      kind: 'DingTalkService',
      metadata: { name: 'ops', namespace: 'team-a' },
      spec: { sendTo: ['Group'], groups: [{ name: '', webhook: { name: 'robot' } }] },
    };
    const error = (() => {
      try {
        parseDingTalkService(obj);
      } catch (err) {
        return err;
      }
    })();
    expect(error).toBeInstanceOf(InvalidResourceError);
    expect((error as InvalidResourceError).issues.map((i) => i.path)).toEqual([
      'spec.groups[0].name',
      'spec.groups[0].webhook.key',
    ]);
    expect((error as Error).message).toMatch(
      /^DingTalkService team-a\/ops is invalid: spec\.groups\[0\]\.name: /,
    );
  });

  it('reject objects of another kind', () => {
    expect(() => parseDingTalkService({ apiVersion: 'v1', kind: 'Secret', metadata: {}, spec: {} })).toThrow(
      /apiVersion: .*; kind: /,
    );
  });
});
