import { knownDingTalkErrors } from './errcode-catalogue.ts';
import type { ErrorClass } from './errors.ts';

const classOf = new Map<number | string, ErrorClass>(knownDingTalkErrors.map((e) => [e.code, e.errorClass]));
const heldCodes = new Set(knownDingTalkErrors.filter((e) => e.holds).map((e) => e.code));
const quotaCodes = new Set(knownDingTalkErrors.filter((e) => e.quota).map((e) => e.code));

/** Old APIs (robot webhook, topapi, gettoken): HTTP 200 with `errcode`. Unknown codes are permanent. */
export function classifyErrcode(errcode: number): ErrorClass {
  return classOf.get(errcode) ?? 'permanent';
}

/** New APIs (api.dingtalk.com/v1.0): `{code,message}` with a 4xx/5xx status. Branch on code first. */
export function classifyApiCode(code: string | undefined, httpStatus: number): ErrorClass {
  return (code !== undefined ? classOf.get(code) : undefined) ?? classifyHttpStatus(httpStatus);
}

export function classifyHttpStatus(httpStatus: number): ErrorClass {
  if (httpStatus === 429) return 'throttled';
  if (httpStatus === 401) return 'auth';
  if (httpStatus >= 500) return 'transient';
  return 'permanent';
}

/**
 * True when DingTalk refused a send for a reason the user fixes by changing configuration (a Secret, a
 * ConfigMap, the service, or the robot's settings): sending the same message again is useless until then.
 */
export function isConfigurationRefusal(error: {
  errorClass: ErrorClass;
  errcode?: number | string;
}): boolean {
  return error.errorClass === 'auth' || (error.errcode !== undefined && heldCodes.has(error.errcode));
}

/**
 * True when DingTalk answered that the month's quota is spent (the organisation's, or a robot's own
 * cap): sending again is useless until the month turns or the organisation buys more.
 */
export function isQuotaExhaustion(error: { errcode?: number | string }): boolean {
  return error.errcode !== undefined && quotaCodes.has(error.errcode);
}
