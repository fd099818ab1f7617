import { describe, expect, it } from 'vitest';
import { appGroupStatuses } from './app-groups.ts';
import type { MemberCheck } from './validate-member.ts';

const appGroups = [{ name: 'Oncall', openConversationId: 'cid1' }];
const check = (credentials: MemberCheck['credentials']) => ({ credentials }) as MemberCheck;

describe('appGroupStatuses', () => {
  it("reports each group ready as long as DingTalk accepts the app's credentials", () => {
    const valid = check({ status: 'True', reason: 'Validated', message: 'token issued' });
    expect(appGroupStatuses(appGroups, valid)).toEqual([
      { name: 'Oncall', ready: true, reason: 'Validated', message: "the app's credentials are valid" },
    ]);
  });

  it("reports the app's problem, naming spec.member, on every group", () => {
    const invalid = check({
      status: 'False',
      reason: 'InvalidCredentials',
      message: 'clientSecret rejected',
    });
    expect(appGroupStatuses(appGroups, invalid)).toEqual([
      {
        name: 'Oncall',
        ready: false,
        reason: 'InvalidCredentials',
        message: 'spec.member: clientSecret rejected',
      },
    ]);
  });
});
