import type { ErrorClass } from './errors.ts';

/**
 * Every DingTalk error identifier the client knows, with what it means and what fixes it. The
 * classifier (classify.ts) reads its classes from here and docs/troubleshooting.md is generated from
 * it, so what the operator does and what the documentation says cannot part ways. Codes vary by era
 * and API family, so every known spelling has its own entry.
 */
export interface KnownDingTalkError {
  /** `errcode` of the old APIs (robot webhook, topapi, gettoken), or `code` of api.dingtalk.com/v1.0. */
  code: number | string;
  /** What the caller should do about it; `auth` first drops the app's access_token and tries once more. */
  errorClass: ErrorClass;
  /** Only a change of configuration cures it: the alarms wait as `Held` instead of failing. */
  holds?: true;
  /**
   * The month's quota is spent: the alarms wait as `Held` (reason QuotaExhausted) until the month turns
   * or the service's monthlyQuota changes.
   */
  quota?: true;
  meaning: string;
  action: string;
}

const SECURITY_CHECK =
  "Read `errmsg` in the ledger entry: for `sign not match`/`签名不匹配` put the robot's 加签 secret (SEC…) " +
  'into the `signature` Secret key; for `keywords not in content`/`关键词不匹配` list one of the ' +
  "robot's custom keywords under the group's `keywords`; for `not in whitelist`/`白名单` add the " +
  "cluster's egress address to the robot's IP allow-list; for `invalid timestamp`/`签名过期` fix the " +
  "node's clock. A change in DingTalk alone is not seen: then change any annotation of the service.";
const WEBHOOK_TOKEN =
  "Put the webhook DingTalk shows now for the group's robot (or its access_token) into the Secret the " +
  'group references; an external group needs a robot of its own.';
const ROBOT_LIMIT =
  'Nothing: the operator pauses the robot for its 10-minute block and merges waiting alarms into ' +
  "digests. If it recurs, something else sends through the same robot: lower the group's " +
  '`rateLimitPerMinute`.';
const APP_RATE =
  'Nothing: retried after a pause. If it recurs, other programs share the app: give the operator an app ' +
  'of its own.';
const MONTHLY_QUOTA =
  "The organisation's monthly allowance (or the robot's own cap) is spent: the alarms are held, and go " +
  "out when the month turns (Asia/Shanghai) or when the target's `monthlyQuota` changes (raise it after " +
  "buying more). A `quotaPolicy` spends the month's calls on what matters first.";
const APP_CREDENTIALS =
  "Put the app's Client ID into `spec.member.clientId` and its Client Secret into the Secret " +
  '`spec.member.clientSecret` references (DingTalk developer console → the app → Credentials).';
const APP_TOKEN =
  'Usually nothing: the operator fetches a new access_token and tries again. If it persists, check the ' +
  "app's credentials and that the app is not disabled.";
const RETRY = 'Nothing: retried with backoff (at most 50 attempts).';
const APP_GROUP =
  "Add the app's robot to the group (group settings → robots) or set the group's " +
  '`spec.member.groups[].openConversationId` to the right id: the held alarms go out when the service ' +
  'changes (after a fix in DingTalk alone, change any annotation of the service).';

export const knownDingTalkErrors: readonly KnownDingTalkError[] = [
  {
    code: 310000,
    errorClass: 'permanent',
    holds: true,
    meaning: "The robot's security check failed: signature, keyword, IP allow-list or timestamp.",
    action: SECURITY_CHECK,
  },
  {
    code: 300001,
    errorClass: 'permanent',
    holds: true,
    meaning: 'No robot has this access_token (deleted, or mistyped).',
    action: WEBHOOK_TOKEN,
  },
  {
    code: 300005,
    errorClass: 'permanent',
    holds: true,
    meaning: 'No robot has this access_token (also answered for robots of external groups).',
    action: WEBHOOK_TOKEN,
  },
  {
    code: 400101,
    errorClass: 'permanent',
    holds: true,
    meaning: 'The access_token does not exist.',
    action: WEBHOOK_TOKEN,
  },
  {
    code: 400102,
    errorClass: 'permanent',
    holds: true,
    meaning: 'The robot is disabled.',
    action: "Enable the robot in the group's settings, then change any annotation of the service.",
  },
  {
    code: 400106,
    errorClass: 'permanent',
    holds: true,
    meaning: 'The robot does not exist: it was removed from the group.',
    action: WEBHOOK_TOKEN,
  },
  {
    code: 410100,
    errorClass: 'throttled',
    meaning: 'Sent too fast: more than 20 messages a minute; the robot is blocked for 10 minutes.',
    action: ROBOT_LIMIT,
  },
  { code: 130101, errorClass: 'throttled', meaning: 'As 410100, in older answers.', action: ROBOT_LIMIT },
  { code: 660026, errorClass: 'throttled', meaning: 'As 410100, in newer answers.', action: ROBOT_LIMIT },
  {
    code: 90018,
    errorClass: 'throttled',
    meaning: "The app's calls per second to one API are over its limit.",
    action: APP_RATE,
  },
  {
    code: 90002,
    errorClass: 'throttled',
    meaning: "DingTalk's overall calls per second to one API are over the limit.",
    action: APP_RATE,
  },
  {
    code: 90020,
    errorClass: 'throttled',
    quota: true,
    meaning: "The organisation's API calls for the month are spent (old APIs).",
    action: MONTHLY_QUOTA,
  },
  {
    // Not in DingTalk's documentation: the code is reported by users only ("webhook over limit"); which
    // code a robot over an administrator's per-robot cap answers is not known either.
    code: 90030,
    errorClass: 'throttled',
    quota: true,
    meaning:
      "The organisation's webhook calls for the month, or the robot's own monthly cap, are spent (reported " +
      'by users, not documented by DingTalk).',
    action: MONTHLY_QUOTA,
  },
  {
    code: 20001,
    errorClass: 'throttled',
    quota: true,
    meaning: "Stream mode paused: the organisation's Webhook&Stream calls for the month are spent.",
    action: MONTHLY_QUOTA,
  },
  { code: -1, errorClass: 'transient', meaning: 'DingTalk is busy.', action: RETRY },
  {
    code: 88,
    errorClass: 'auth',
    holds: true,
    meaning: 'Authentication failed (old APIs; `sub_code` says why, e.g. 40014).',
    action: APP_TOKEN,
  },
  {
    code: 40014,
    errorClass: 'auth',
    holds: true,
    meaning: "The app's access_token is invalid.",
    action: APP_TOKEN,
  },
  {
    code: 42001,
    errorClass: 'auth',
    holds: true,
    meaning: "The app's access_token has expired.",
    action: APP_TOKEN,
  },
  {
    code: 40089,
    errorClass: 'auth',
    holds: true,
    meaning: 'The corpId or corpSecret is invalid.',
    action: APP_CREDENTIALS,
  },
  {
    code: 40096,
    errorClass: 'auth',
    holds: true,
    meaning: 'The appKey or appSecret is invalid.',
    action: APP_CREDENTIALS,
  },
  {
    code: 'send.too.fast',
    errorClass: 'throttled',
    meaning: 'The app robot sends too fast.',
    action: APP_RATE,
  },
  {
    code: 'send.byToken.tooFast',
    errorClass: 'throttled',
    meaning: 'The app robot sends too fast with this token.',
    action: APP_RATE,
  },
  {
    code: 'too.many.people',
    errorClass: 'throttled',
    meaning: 'Too many members messaged in a short time.',
    action: APP_RATE,
  },
  {
    code: 'too.many.group',
    errorClass: 'throttled',
    meaning: 'Too many groups messaged in a short time.',
    action: APP_RATE,
  },
  {
    code: 'system.busy',
    errorClass: 'throttled',
    meaning: 'Too many requests (HTTP 429).',
    action: APP_RATE,
  },
  {
    code: 'Forbidden.AccessDenied.QpsLimitForAppkeyAndApi',
    errorClass: 'throttled',
    meaning: "The app's calls per second to one API are over its limit.",
    action: APP_RATE,
  },
  {
    code: 'Forbidden.AccessDenied.QpsLimitForApi',
    errorClass: 'throttled',
    meaning: "DingTalk's overall calls per second to one API are over the limit.",
    action: APP_RATE,
  },
  {
    code: 'Forbidden.AccessDenied.ApiCountLimitForOrg',
    errorClass: 'throttled',
    quota: true,
    meaning: "The organisation's API calls for the month are spent.",
    action: MONTHLY_QUOTA,
  },
  {
    code: 'InvalidAuthentication',
    errorClass: 'auth',
    holds: true,
    meaning: 'The access_token is invalid or has expired.',
    action: APP_TOKEN,
  },
  {
    code: 'invalidClientIdOrSecret',
    errorClass: 'auth',
    holds: true,
    meaning: 'DingTalk refused the ClientId or ClientSecret.',
    action: APP_CREDENTIALS,
  },
  {
    code: 'authFailed',
    errorClass: 'auth',
    holds: true,
    meaning: 'Authentication failed.',
    action: APP_TOKEN,
  },
  {
    code: 'invalidParameter.token.invalid',
    errorClass: 'auth',
    holds: true,
    meaning: 'The access_token is not valid for this call.',
    action: APP_TOKEN,
  },
  {
    code: 'token.notExisted',
    errorClass: 'auth',
    holds: true,
    meaning: 'The access_token does not exist.',
    action: APP_TOKEN,
  },
  {
    code: 'Forbidden.AccessDenied.AccessTokenPermissionDenied',
    errorClass: 'auth',
    holds: true,
    meaning: 'The app lacks the permission this call needs.',
    action:
      'Grant the app the robot message permissions in the developer console (e.g. 企业内机器人发送消息权限), ' +
      'then change any annotation of the service.',
  },
  {
    code: 'system.error',
    errorClass: 'transient',
    meaning: 'DingTalk failed internally (HTTP 500).',
    action: RETRY,
  },
  {
    code: 'invalidParameter.robotCode.notExist',
    errorClass: 'permanent',
    holds: true,
    meaning: 'No robot of the app has this robotCode.',
    action:
      "Set `spec.member.robotCode` to the app robot's RobotCode as the developer console shows it (it " +
      'defaults to the clientId).',
  },
  {
    code: 'invalidParameter.robotCode.notExsit',
    errorClass: 'permanent',
    holds: true,
    meaning: 'As `invalidParameter.robotCode.notExist`, as DingTalk spells it in some answers.',
    action: 'As `invalidParameter.robotCode.notExist`.',
  },
  {
    code: 'invalid.openConversationId',
    errorClass: 'permanent',
    holds: true,
    meaning:
      "The app's robot cannot post to the group (spec.member.groups): the openConversationId is wrong, or " +
      'the robot is not a member of the group.',
    action: APP_GROUP,
  },
  {
    code: 'group.disbanded',
    errorClass: 'permanent',
    holds: true,
    meaning: 'The group of spec.member.groups was disbanded.',
    action: APP_GROUP,
  },
  {
    code: 'bot.stopped',
    errorClass: 'permanent',
    holds: true,
    meaning: "The app's robot was stopped in the group of spec.member.groups.",
    action: APP_GROUP,
  },
];
