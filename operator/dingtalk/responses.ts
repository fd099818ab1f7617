import { z } from 'zod';
import { classifyApiCode, classifyErrcode, classifyHttpStatus } from './classify.ts';
import { DingTalkError, DingTalkErrorCode, type DingTalkErrorDetails } from './errors.ts';
import type { RawResponse } from './transport.ts';

/**
 * Turns DingTalk's answers into data or a DingTalkError. Two families (dingtalk-api.md §7): old APIs
 * answer HTTP 200 with `errcode` (≠ 0 is a failure), new APIs answer 4xx/5xx with `{code,message,requestid}`.
 */

// The docs show errcode as "0" in places; real servers send numbers. Accept both.
const oapiEnvelopeSchema = z.object({
  errcode: z.coerce.number(),
  errmsg: z.string().optional(),
  sub_code: z.string().optional(),
  sub_msg: z.string().optional(),
  request_id: z.string().optional(),
});

// The IP-level anti-abuse answer is not an errcode body (§1.8).
const antiAbuseSchema = z.object({ status: z.literal(1111), punish: z.string() });

const apiErrorSchema = z.object({
  code: z.string().optional(),
  message: z.string().optional(),
  requestid: z.string().optional(),
});

export function readOapi<T extends z.ZodType>(
  response: RawResponse,
  endpoint: string,
  schema: T,
): z.output<T> {
  const json = parseJson(response.text);
  if (antiAbuseSchema.safeParse(json).success) {
    throw rejected(endpoint, {
      errorClass: 'throttled',
      errmsg: 'blocked by anti-abuse throttling',
      response,
    });
  }
  if (response.status !== 200) throw statusError(endpoint, response);
  const envelope = oapiEnvelopeSchema.safeParse(json);
  if (!envelope.success) throw badResponse(endpoint, envelope.error);
  const { errcode, errmsg, sub_code, sub_msg, request_id } = envelope.data;
  if (errcode !== 0) {
    throw rejected(endpoint, {
      errorClass: classifyErrcode(errcode),
      errcode,
      errmsg: sub_msg ? `${errmsg ?? ''} (sub_code ${sub_code}: ${sub_msg})` : errmsg,
      requestId: request_id,
      response,
    });
  }
  return parseBody(json, schema, endpoint);
}

export function readApi<T extends z.ZodType>(
  response: RawResponse,
  endpoint: string,
  schema: T,
): z.output<T> {
  const json = parseJson(response.text);
  if (response.status >= 200 && response.status < 300) return parseBody(json, schema, endpoint);
  const body = apiErrorSchema.safeParse(json);
  if (!body.success || body.data.code === undefined) throw statusError(endpoint, response);
  const { code, message, requestid } = body.data;
  throw rejected(endpoint, {
    errorClass: classifyApiCode(code, response.status),
    errcode: code,
    errmsg: message,
    requestId: requestid,
    response,
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function parseBody<T extends z.ZodType>(json: unknown, schema: T, endpoint: string): z.output<T> {
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw badResponse(endpoint, parsed.error);
  return parsed.data;
}

function rejected(
  endpoint: string,
  details: Pick<DingTalkErrorDetails, 'errorClass' | 'errcode' | 'errmsg' | 'requestId'> & {
    response: RawResponse;
  },
): DingTalkError {
  const { response, ...rest } = details;
  const what = rest.errcode === undefined ? '' : ` ${rest.errcode}`;
  return new DingTalkError(`${endpoint}: DingTalk refused${what}: ${rest.errmsg ?? 'no message'}`, {
    ...rest,
    code: DingTalkErrorCode.rejected,
    endpoint,
    httpStatus: response.status,
  });
}

function statusError(endpoint: string, response: RawResponse): DingTalkError {
  return new DingTalkError(`${endpoint}: unexpected HTTP status ${response.status}`, {
    code: DingTalkErrorCode.httpStatus,
    errorClass: classifyHttpStatus(response.status),
    endpoint,
    httpStatus: response.status,
  });
}

function badResponse(endpoint: string, error: z.ZodError): DingTalkError {
  return new DingTalkError(`${endpoint}: unexpected response body: ${z.prettifyError(error)}`, {
    code: DingTalkErrorCode.badResponse,
    errorClass: 'transient',
    endpoint,
  });
}
