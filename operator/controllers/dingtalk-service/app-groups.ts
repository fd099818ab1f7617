import type { AppGroupStatus, AppGroupTarget } from '../../api/index.ts';
import type { MemberCheck } from './validate-member.ts';

/**
 * The status of groups reached through the app's robot: each stands or falls with the app's
 * credentials (spec.member), which the member check asks DingTalk about. Whether the robot is in the
 * group DingTalk tells only when a card is sent, so that is reported by delivery, not here.
 */
export function appGroupStatuses(
  appGroups: readonly AppGroupTarget[],
  member: MemberCheck,
): AppGroupStatus[] {
  return appGroups.map(({ name }) => {
    const { status, reason, message } = member.credentials;
    return status === 'True'
      ? { name, ready: true, reason, message: "the app's credentials are valid" }
      : { name, ready: false, reason, message: `spec.member: ${message}` };
  });
}
