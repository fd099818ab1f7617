import type { ErrorClass } from './errors.ts';

/**
 * Maps DingTalk's error identifiers to what a caller should do. Codes vary by era and API family
 * (see dingtalk-api.md §1.8, §1.10, §3.1, §3.4, §4), so every known spelling is listed.
 */

const throttledErrcodes = new Set([410100, 130101, 660026, 90018, 90002, 90020, 90030]);
const transientErrcodes = new Set([-1]);
// 88 is the old APIs' wrapper for auth failures; 40014/42001 mean the access_token is bad or expired.
const authErrcodes = new Set([88, 40014, 42001, 40089, 40096]);

/** Old APIs (robot webhook, topapi, gettoken): HTTP 200 with `errcode`. Unknown codes are permanent. */
export function classifyErrcode(errcode: number): ErrorClass {
  if (throttledErrcodes.has(errcode)) return 'throttled';
  if (transientErrcodes.has(errcode)) return 'transient';
  if (authErrcodes.has(errcode)) return 'auth';
  return 'permanent';
}

const throttledCodes = new Set([
  'send.too.fast',
  'send.byToken.tooFast',
  'too.many.people',
  'too.many.group',
  'system.busy',
  'Forbidden.AccessDenied.QpsLimitForAppkeyAndApi',
  'Forbidden.AccessDenied.QpsLimitForApi',
  'Forbidden.AccessDenied.ApiCountLimitForOrg',
]);
const authCodes = new Set([
  'InvalidAuthentication',
  'invalidClientIdOrSecret',
  'authFailed',
  'invalidParameter.token.invalid',
  'token.notExisted',
  'Forbidden.AccessDenied.AccessTokenPermissionDenied',
]);
const transientCodes = new Set(['system.error']);

/** New APIs (api.dingtalk.com/v1.0): `{code,message}` with a 4xx/5xx status. Branch on code first. */
export function classifyApiCode(code: string | undefined, httpStatus: number): ErrorClass {
  if (code !== undefined) {
    if (throttledCodes.has(code)) return 'throttled';
    if (authCodes.has(code)) return 'auth';
    if (transientCodes.has(code)) return 'transient';
  }
  return classifyHttpStatus(httpStatus);
}

export function classifyHttpStatus(httpStatus: number): ErrorClass {
  if (httpStatus === 429) return 'throttled';
  if (httpStatus === 401) return 'auth';
  if (httpStatus >= 500) return 'transient';
  return 'permanent';
}

// Refusals only a change of configuration can cure: 310000 (signature, keyword, IP allow-list, clock),
// 300001/300005/400101 (no such access_token), 400102 (robot disabled); for apps, refused credentials
// and an unknown robotCode.
const configurationErrcodes = new Set<number | string>([
  310000,
  300001,
  300005,
  400101,
  400102,
  'invalidParameter.robotCode.notExsit',
  'invalidParameter.robotCode.notExist',
]);

/**
 * True when DingTalk refused a send for a reason the user fixes by changing configuration (a Secret, a
 * ConfigMap, the service, or the robot's settings): sending the same message again is useless until then.
 */
export function isConfigurationRefusal(error: {
  errorClass: ErrorClass;
  errcode?: number | string;
}): boolean {
  return (
    error.errorClass === 'auth' || (error.errcode !== undefined && configurationErrcodes.has(error.errcode))
  );
}
