import { DingTalkConditionReason, type MemberTarget } from '../../api/index.ts';
import type { DingTalkClient, DingTalkError } from '../../dingtalk/index.ts';
import { isDingTalkError } from '../../dingtalk/index.ts';
import { ConditionReason } from '../../runtime/conditions.ts';
import { redactUrl } from '../../runtime/logger.ts';
import {
  type MemberDirectory,
  type MemberEntry,
  type ReferenceProblem,
  type ReferenceReader,
  type ResolvedMemberApp,
  resolveMemberApp,
} from '../../targets/index.ts';

/**
 * Checks the member side: the app's credentials by asking DingTalk for an access token (the client
 * caches it per app, so services sharing an app cost one request), then the members by resolving
 * mobiles to userIds and looking up userIds (cached by the shared MemberDirectory). Unknown members are
 * reported; they make the target unusable only when nobody is left to receive a message.
 */

export interface Verdict {
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

export interface MemberCheck {
  ready: boolean;
  reason: string;
  message: string;
  credentials: Verdict;
  members: Verdict;
  /** DingTalk was unreachable or throttling: worth another attempt soon, with backoff. */
  retry: boolean;
  /** Epoch ms. */
  tokenExpiresAt?: number;
  resolvedMembers?: number;
  unknownMembers?: MemberEntry[];
  /** Present when ready: where a test message goes. */
  app?: ResolvedMemberApp;
  userIds?: string[];
}

export interface MemberDeps {
  reader: ReferenceReader;
  dingtalk: Pick<DingTalkClient, 'getAccessTokenGrant'>;
  members: Pick<MemberDirectory, 'resolve'>;
}

interface Failure {
  reason: string;
  message: string;
  retry: boolean;
}

/** What a DingTalk failure means for the service; DingTalk's own code is kept in the message. */
export function classifyFailure(err: DingTalkError, what: string): Failure {
  const detail =
    err.errcode !== undefined
      ? `DingTalk answered code ${err.errcode}${err.errmsg ? ` (${err.errmsg})` : ''}`
      : err.message;
  const message = redactUrl(`${what}: ${detail}`);
  switch (err.errorClass) {
    case 'auth':
      return { reason: DingTalkConditionReason.InvalidCredentials, message, retry: false };
    case 'transient':
      return { reason: DingTalkConditionReason.Unreachable, message, retry: true };
    case 'throttled':
      return { reason: DingTalkConditionReason.Throttled, message, retry: true };
    default:
      return { reason: DingTalkConditionReason.DingTalkError, message, retry: false };
  }
}

const MAX_UNKNOWN_NAMES = 20;
const MAX_NAME_LENGTH = 128;

/** How an unknown member is shown in status: by name where the spec gives one, else by id. */
export function unknownMemberNames(unknown: readonly MemberEntry[]): string[] {
  return unknown
    .slice(0, MAX_UNKNOWN_NAMES)
    .map((member) => (member.name ?? member.userId ?? member.mobile ?? '').slice(0, MAX_NAME_LENGTH));
}

export async function validateMember(
  namespace: string,
  member: MemberTarget,
  deps: MemberDeps,
): Promise<MemberCheck> {
  const notChecked = (message: string): Verdict => ({
    status: 'Unknown',
    reason: ConditionReason.DependencyNotReady,
    message,
  });
  const failed = (
    credentials: Verdict,
    members: Verdict,
    failure: { reason: string; message: string; retry?: boolean },
  ): MemberCheck => ({
    ready: false,
    reason: failure.reason,
    message: failure.message,
    credentials,
    members,
    retry: failure.retry ?? false,
  });

  // A broken membersFrom must not hide the state of the credentials, so they are resolved without it.
  const full = resolveMemberApp(namespace, member, deps.reader);
  const app = full.ok
    ? full
    : resolveMemberApp(namespace, { ...member, membersFrom: undefined }, deps.reader);
  if (!app.ok) {
    return failed(
      { status: 'False', reason: app.problem.reason, message: app.problem.message },
      notChecked('members are looked up once the credentials are valid'),
      app.problem,
    );
  }
  const importProblem: ReferenceProblem | undefined = full.ok ? undefined : full.problem;
  const { clientId, clientSecret } = app.value;

  let tokenExpiresAt: number;
  try {
    ({ expiresAt: tokenExpiresAt } = await deps.dingtalk.getAccessTokenGrant({ clientId, clientSecret }));
  } catch (err) {
    if (!isDingTalkError(err)) throw err;
    const failure = classifyFailure(
      err,
      `no access token for ClientId "${clientId}" with Secret "${member.clientSecret.name}" key "${member.clientSecret.key}"`,
    );
    return failed(
      { status: 'False', reason: failure.reason, message: failure.message },
      notChecked('members are looked up once the credentials are valid'),
      failure,
    );
  }
  const credentials: Verdict = {
    status: 'True',
    reason: DingTalkConditionReason.Validated,
    message: `DingTalk issued an access token for ClientId "${clientId}"`,
  };
  if (importProblem) {
    const verdict: Verdict = {
      status: 'False',
      reason: importProblem.reason,
      message: importProblem.message,
    };
    return { ...failed(credentials, verdict, importProblem), tokenExpiresAt };
  }

  let resolution: Awaited<ReturnType<MemberDirectory['resolve']>>;
  try {
    resolution = await deps.members.resolve(namespace, app.value);
  } catch (err) {
    if (!isDingTalkError(err)) throw err;
    const failure = classifyFailure(err, `members of ClientId "${clientId}" could not be looked up`);
    const verdict: Verdict = { status: 'False', reason: failure.reason, message: failure.message };
    return { ...failed(credentials, verdict, failure), tokenExpiresAt };
  }

  const { userIds, unknown } = resolution;
  const total = app.value.members.length;
  const members: Verdict =
    unknown.length === 0
      ? {
          status: 'True',
          reason: DingTalkConditionReason.MembersResolved,
          message: `${userIds.length} member(s) resolved`,
        }
      : {
          status: 'False',
          reason: DingTalkConditionReason.MembersUnresolved,
          message: `${unknown.length} of ${total} member(s) unknown to DingTalk: ${unknownMemberNames(unknown).join(', ')}`,
        };
  const outcome = { tokenExpiresAt, resolvedMembers: userIds.length, unknownMembers: unknown };
  if (userIds.length === 0) {
    return {
      ...failed(credentials, members, {
        reason: DingTalkConditionReason.MembersUnresolved,
        message: `none of the ${total} member(s) is known to DingTalk`,
      }),
      ...outcome,
    };
  }
  return {
    ready: true,
    reason: DingTalkConditionReason.Validated,
    message: `app robot "${app.value.robotCode}" can send to ${userIds.length} member(s)${unknown.length ? `; ${unknown.length} unknown` : ''}`,
    credentials,
    members,
    retry: false,
    ...outcome,
    app: app.value,
    userIds,
  };
}
