import { describe, expect, it } from 'vitest';
import { parseDingTalkService } from './parse.ts';

function service(spec: Record<string, unknown>) {
  return {
    apiVersion: 'dingtalk.alarming.io/v1alpha1',
    kind: 'DingTalkService',
    metadata: { name: 's', namespace: 'ns' },
    spec,
  };
}

const group = { name: 'Ops', webhook: { name: 'robot', key: 'webhook' } };
const member = {
  clientId: 'dingapp',
  clientSecret: { name: 'app', key: 'secret' },
  members: [{ userId: 'u1' }],
};

describe('DingTalkService', () => {
  it('fills in the rate limit of a group robot: 20 a minute, the DingTalk maximum', () => {
    const parsed = parseDingTalkService(service({ sendTo: ['Group'], groups: [group] }));
    expect(parsed.spec.groups?.[0].rateLimitPerMinute).toBe(20);
  });

  it('uses the clientId as robotCode when none is given', () => {
    const parsed = parseDingTalkService(service({ sendTo: ['Member'], member }));
    expect(parsed.spec.member?.robotCode).toBe('dingapp');
  });

  it('keeps an explicit robotCode', () => {
    const parsed = parseDingTalkService(
      service({ sendTo: ['Member'], member: { ...member, robotCode: 'dingrobot' } }),
    );
    expect(parsed.spec.member?.robotCode).toBe('dingrobot');
  });

  it('accepts members only from a ConfigMap', () => {
    const fromConfigMap = {
      ...member,
      members: undefined,
      membersFrom: { name: 'contacts', key: 'members.csv' },
    };
    expect(() => parseDingTalkService(service({ sendTo: ['Member'], member: fromConfigMap }))).not.toThrow();
  });

  it("takes groups reached through the app's robot, by openConversationId", () => {
    const groups = [{ name: 'Oncall', openConversationId: 'cidAbC123==' }];
    const parsed = parseDingTalkService(service({ sendTo: ['AppGroup'], member: { ...member, groups } }));
    expect(parsed.spec.member?.groups).toEqual(groups);
  });

  it.each([
    [
      'AppGroup without member.groups',
      { sendTo: ['AppGroup'], member },
      'spec.member.groups: sendTo contains AppGroup',
    ],
    [
      'a member.groups name that groups uses too',
      {
        sendTo: ['Group', 'AppGroup'],
        groups: [group],
        member: { ...member, groups: [{ name: 'Ops', openConversationId: 'cid1' }] },
      },
      'spec.member.groups: a name is used by both groups and member.groups',
    ],
    ['Group without groups', { sendTo: ['Group'] }, 'spec.groups: sendTo contains Group'],
    ['Member without member', { sendTo: ['Member'] }, 'spec.member: sendTo contains Member'],
    [
      'duplicate group names',
      { sendTo: ['Group'], groups: [group, group] },
      'spec.groups: group names must be unique',
    ],
    [
      'a member with both userId and mobile',
      { sendTo: ['Member'], member: { ...member, members: [{ userId: 'u1', mobile: '13800000000' }] } },
      'spec.member.members[0]: set exactly one of userId or mobile',
    ],
    [
      'member without recipients',
      { sendTo: ['Member'], member: { ...member, members: [] } },
      'spec.member.members: member needs at least one of members or membersFrom',
    ],
    [
      'a rate limit above DingTalk’s',
      { sendTo: ['Group'], groups: [{ ...group, rateLimitPerMinute: 21 }] },
      'spec.groups[0].rateLimitPerMinute',
    ],
    ['an unknown sendTo', { sendTo: ['Email'] }, 'spec.sendTo[0]'],
  ])('rejects %s, naming the field', (_, spec, expected) => {
    expect(() => parseDingTalkService(service(spec))).toThrow(expected);
  });
});
