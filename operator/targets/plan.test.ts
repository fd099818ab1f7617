import type { V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { InvalidResourceError, parseDingTalkService, type ServiceRef } from '../api/index.ts';
import { parseServiceSpec, planTargets, serviceSpec } from './plan.ts';
import type { ReferenceReader } from './resolve.ts';

const b64 = (text: string) => Buffer.from(text).toString('base64');
const reader: ReferenceReader = {
  secret: () => ({ data: { webhook: b64('tok'), clientSecret: b64('app-secret') } }) as V1Secret,
  configMap: () => undefined,
};

function service(sendTo: string[]) {
  return {
    apiVersion: 'dingtalk.alarming.io/v1alpha1',
    kind: 'DingTalkService',
    metadata: { name: 'ops', namespace: 'ns' },
    spec: {
      sendTo,
      groups: [{ name: 'webhook-group', webhook: { name: 's', key: 'webhook' } }],
      member: {
        clientId: 'dingapp',
        clientSecret: { name: 's', key: 'clientSecret' },
        members: [{ userId: 'u1', name: 'One' }, { userId: 'u2' }],
        groups: [
          { name: 'oncall', openConversationId: 'cidOncall==' },
          { name: 'db', openConversationId: 'cidDb==' },
        ],
      },
    },
  };
}

const plan = (sendTo: string[], ref: Partial<ServiceRef> = {}) =>
  planTargets('ns', [{ name: 'ops', ...ref }], { service: () => service(sendTo) }, reader);

describe("planning groups reached through the app's robot", () => {
  it('plans every group of member.groups with the app and who may act on its cards', () => {
    const planned = plan(['AppGroup']);
    expect(planned.map((t) => [t.kind, 'name' in t ? t.name : t.ledgerName])).toEqual([
      ['AppGroup', 'oncall'],
      ['AppGroup', 'db'],
    ]);
    expect(planned[0]).toMatchObject({
      openConversationId: 'cidOncall==',
      app: { clientId: 'dingapp', robotCode: 'dingapp' },
      actors: [{ userId: 'u1' }, { userId: 'u2' }],
    });
  });

  it("plans the groups a rule names under their kind, and lets the rule's members alone act", () => {
    const planned = plan(['Group', 'AppGroup', 'Member'], {
      groups: ['db', 'webhook-group'],
      members: ['u2'],
    });
    expect(planned.map((t) => [t.kind, 'name' in t ? t.name : t.ledgerName])).toEqual([
      ['Group', 'webhook-group'],
      ['AppGroup', 'db'],
      ['Member', 'members'],
    ]);
    expect(planned[1]).toMatchObject({ actors: [{ userId: 'u2' }] });
  });

  it('shows a named group of member.groups as a problem when AppGroup is not sent to', () => {
    const planned = plan(['Member'], { groups: ['oncall'] });
    expect(planned).toContainEqual(
      expect.objectContaining({
        kind: 'AppGroup',
        name: 'oncall',
        problem: expect.objectContaining({ reason: 'TargetNotFound' }),
      }),
    );
  });
});

describe("the parse of a cached service's spec", () => {
  it("is the schema's parse, sharing with the cached spec every part the parse left as it was", () => {
    const raw = service(['Group', 'Member']);
    const spec = parseServiceSpec(raw);
    expect(spec).toEqual(parseDingTalkService(raw).spec);
    expect(spec.member?.members).toBe(raw.spec.member.members);
    // Defaults the parse filled in make their object its own.
    expect(spec).not.toBe(raw.spec);
    expect(spec.member).not.toBe(raw.spec.member);
    expect(raw.spec.member).not.toHaveProperty('monthlyQuota');
  });

  it('is parsed once while the cached version keeps its spec object, as it does across status writes', () => {
    const before = service(['Group']);
    const spec = parseServiceSpec(before);
    const statusWritten = {
      ...before,
      metadata: { ...before.metadata, resourceVersion: '2' },
      status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'ok' }] },
    };
    expect(parseServiceSpec(statusWritten)).toBe(spec);
    expect(serviceSpec(statusWritten)).toBe(spec);
    // A new spec object is parsed anew, even when it holds the same.
    const respecified = { ...before, spec: structuredClone(before.spec) };
    expect(parseServiceSpec(respecified)).not.toBe(spec);
    expect(parseServiceSpec(respecified)).toEqual(spec);
  });

  it("does not depend on the status, which is the API server's to validate", () => {
    const raw = { ...service(['Group']), status: { conditions: 'not a list' } };
    expect(serviceSpec(raw)?.sendTo).toEqual(['Group']);
  });

  it('names the field an invalid spec gets wrong, each time it is asked', () => {
    const raw = service(['Pager']);
    expect(() => parseServiceSpec(raw)).toThrow(InvalidResourceError);
    expect(() => parseServiceSpec(raw)).toThrow(/spec\.sendTo\[0\]/);
    expect(serviceSpec(raw)).toBeUndefined();
  });
});
