import { describe, expect, it } from 'vitest';
import {
  classifyApiCode,
  classifyErrcode,
  classifyHttpStatus,
  isConfigurationRefusal,
  isQuotaExhaustion,
} from './classify.ts';

describe('classifyErrcode (old APIs: robot webhook, topapi, gettoken)', () => {
  it.each([
    [410100, 'throttled'],
    [130101, 'throttled'],
    [660026, 'throttled'],
    [90018, 'throttled'],
    [90002, 'throttled'],
    [90020, 'throttled'],
    [90030, 'throttled'],
    [-1, 'transient'],
    [88, 'auth'],
    [40014, 'auth'],
    [42001, 'auth'],
    [40089, 'auth'],
    [40096, 'auth'],
    [310000, 'permanent'],
    [300001, 'permanent'],
    [300005, 'permanent'],
    [400101, 'permanent'],
    [400102, 'permanent'],
    [400105, 'permanent'],
    [400106, 'permanent'],
    [400013, 'permanent'],
    [460101, 'permanent'],
    [101002, 'permanent'],
    [40035, 'permanent'],
    [43004, 'permanent'],
    [430101, 'permanent'],
    [430104, 'permanent'],
    [60121, 'permanent'],
    [123456, 'permanent'],
  ])('errcode %i is %s', (errcode, expected) => {
    expect(classifyErrcode(errcode)).toBe(expected);
  });
});

describe('classifyApiCode (new APIs: {code,message})', () => {
  it.each([
    ['send.too.fast', 400, 'throttled'],
    ['send.byToken.tooFast', 400, 'throttled'],
    ['too.many.people', 400, 'throttled'],
    ['too.many.group', 400, 'throttled'],
    ['system.busy', 429, 'throttled'],
    ['Forbidden.AccessDenied.QpsLimitForAppkeyAndApi', 403, 'throttled'],
    ['Forbidden.AccessDenied.QpsLimitForApi', 403, 'throttled'],
    ['Forbidden.AccessDenied.ApiCountLimitForOrg', 403, 'throttled'],
    ['InvalidAuthentication', 400, 'auth'],
    ['invalidClientIdOrSecret', 400, 'auth'],
    ['authFailed', 401, 'auth'],
    ['invalidParameter.token.invalid', 400, 'auth'],
    ['token.notExisted', 400, 'auth'],
    ['Forbidden.AccessDenied.AccessTokenPermissionDenied', 403, 'auth'],
    ['system.error', 500, 'transient'],
    ['invalidParameter.robotCode.notExsit', 400, 'permanent'],
    ['invalidParameter.userIds.overMax', 400, 'permanent'],
    ['Forbidden.AccessDenied.IpNotInWhiteList', 403, 'permanent'],
    ['something.new', 503, 'transient'],
  ])('code %s (HTTP %i) is %s', (code, status, expected) => {
    expect(classifyApiCode(code, status)).toBe(expected);
  });
});

describe('classifyHttpStatus (bodies that are not DingTalk errors)', () => {
  it.each([
    [429, 'throttled'],
    [401, 'auth'],
    [500, 'transient'],
    [502, 'transient'],
    [503, 'transient'],
    [404, 'permanent'],
  ])('HTTP %i is %s', (status, expected) => {
    expect(classifyHttpStatus(status)).toBe(expected);
  });
});

describe('isConfigurationRefusal', () => {
  it.each([
    [310000, 'permanent', true],
    [300001, 'permanent', true],
    [400102, 'permanent', true],
    ['invalidParameter.robotCode.notExsit', 'permanent', true],
    ['invalidClientIdOrSecret', 'auth', true],
    [410100, 'throttled', false],
    [-1, 'transient', false],
    [43004, 'permanent', false],
  ] as const)('errcode %s (%s) needs a configuration change: %s', (errcode, errorClass, expected) => {
    expect(isConfigurationRefusal({ errcode, errorClass })).toBe(expected);
  });
});

describe('isQuotaExhaustion', () => {
  it.each([
    [90030, true],
    [90020, true],
    [20001, true],
    ['Forbidden.AccessDenied.ApiCountLimitForOrg', true],
    ['Forbidden.AccessDenied.QpsLimitForAppkeyAndApi', false],
    [410100, false],
    [310000, false],
  ] as const)("errcode %s says the month's quota is spent: %s", (errcode, expected) => {
    expect(isQuotaExhaustion({ errcode })).toBe(expected);
    // Held for the month, not for a configuration change.
    if (expected) {
      expect(isConfigurationRefusal({ errcode, errorClass: classifyErrcodeOrApi(errcode) })).toBe(false);
    }
  });
});

function classifyErrcodeOrApi(errcode: number | string) {
  return typeof errcode === 'number' ? classifyErrcode(errcode) : classifyApiCode(errcode, 403);
}
