import { createHmac } from 'node:crypto';
import { BlockList, isIPv4 } from 'node:net';
import { z } from 'zod';
import type { RecordedMessage } from './schemas.ts';
import type { Robot, World } from './world.ts';

/**
 * POST /robot/send, the custom group robot webhook (dingtalk-api.md §1.11). Every answer is HTTP 200 with
 * an errcode; the checks run in the order that reference lists.
 */

export interface RobotSendRequest {
  query: URLSearchParams;
  contentType: string | undefined;
  body: Buffer | undefined;
  ip: string;
}

export interface RobotAnswer {
  errcode: number;
  errmsg: string;
}

export const maxBodyBytes = 20_000;
export const rateWindowMs = 60_000;
export const maxSendsPerWindow = 20;
export const blockMs = 10 * 60_000;
const signatureWindowMs = 3_600_000;

const ok: RobotAnswer = { errcode: 0, errmsg: 'ok' };
const answer = (errcode: number, errmsg: string): RobotAnswer => ({ errcode, errmsg });

const atSchema = z
  .object({
    atMobiles: z.array(z.string()).default([]),
    atUserIds: z.array(z.string()).default([]),
    isAtAll: z.boolean().default(false),
  })
  .optional();
const link = { title: z.string(), messageURL: z.string(), picURL: z.string() };
const messageSchema = z.discriminatedUnion('msgtype', [
  z.object({ msgtype: z.literal('text'), text: z.object({ content: z.string() }), at: atSchema }),
  z.object({
    msgtype: z.literal('markdown'),
    markdown: z.object({ title: z.string(), text: z.string() }),
    at: atSchema,
  }),
  z.object({
    msgtype: z.literal('actionCard'),
    actionCard: z.union([
      z.object({ title: z.string(), text: z.string(), singleTitle: z.string(), singleURL: z.string() }),
      z.object({
        title: z.string(),
        text: z.string(),
        btns: z.array(z.object({ title: z.string(), actionURL: z.string() })).min(1),
      }),
    ]),
    at: atSchema,
  }),
  z.object({
    msgtype: z.literal('link'),
    link: z.object({
      title: z.string(),
      text: z.string(),
      messageUrl: z.string(),
      picUrl: z.string().optional(),
    }),
  }),
  z.object({ msgtype: z.literal('feedCard'), feedCard: z.object({ links: z.array(z.object(link)).min(1) }) }),
]);
type Message = z.output<typeof messageSchema>;
const knownTypes = new Set(['text', 'markdown', 'actionCard', 'link', 'feedCard']);

export function handleRobotSend(world: World, request: RobotSendRequest): RobotAnswer {
  const now = world.clock.now();
  const token = request.query.get('access_token') ?? '';
  world.count(world.stats.robotSends, token);
  const robot = world.robots.get(token);
  if (!robot) return answer(300001, 'token is not exist');
  if (robot.blockedUntil > now) return throttled();
  if (!world.spendMonthly(`robot:${token}`, robot.monthlyLimit)) return answer(90030, 'webhook over limit');

  if (!request.contentType?.toLowerCase().startsWith('application/json')) {
    return answer(43004, '无效的HTTP HEADER Content-Type');
  }
  const signatureProblem = robot.secret ? checkSignature(robot.secret, request.query, now) : undefined;
  if (signatureProblem) return signatureProblem;
  if (!ipAllowed(robot, request.ip)) return answer(310000, `ip ${request.ip} not in whitelist`);

  const raw = request.body ?? Buffer.alloc(0);
  if (raw.length > maxBodyBytes) return answer(460101, `message too long, exceed ${maxBodyBytes} bytes`);
  const json = parseJson(raw);
  if (json === undefined) return answer(40035, '缺少参数 json');
  const msgtype = (json as { msgtype?: unknown }).msgtype;
  if (typeof msgtype !== 'string' || !knownTypes.has(msgtype)) return answer(400105, '不支持的消息类型');
  const parsed = messageSchema.safeParse(json);
  if (!parsed.success) return answer(40035, `缺少参数 ${parsed.error.issues[0]?.path.join('.') ?? msgtype}`);

  const shown = readable(parsed.data);
  if (robot.keywords.length > 0 && !robot.keywords.some((keyword) => shown.scanned.includes(keyword))) {
    return answer(310000, 'keywords not in content');
  }

  robot.recentSends = robot.recentSends.filter((sent) => sent > now - rateWindowMs);
  if (robot.recentSends.length >= maxSendsPerWindow) {
    robot.blockedUntil = now + blockMs;
    return throttled();
  }
  robot.recentSends.push(now);

  const msgUuid = (json as { msgUuid?: unknown }).msgUuid;
  if (typeof msgUuid === 'string') {
    if (robot.seenMsgUuids.has(msgUuid)) {
      world.stats.duplicatesSuppressed++;
      return ok;
    }
    robot.seenMsgUuids.add(msgUuid);
  }
  const received = { ...(json as Record<string, unknown>) };
  delete received.msgUuid;
  recordGroupMessage(
    world,
    robot,
    parsed.data,
    received,
    shown,
    typeof msgUuid === 'string' ? msgUuid : undefined,
  );
  return ok;
}

function throttled(): RobotAnswer {
  return answer(410100, 'send too fast, exceed 20 times per minute');
}

function checkSignature(secret: string, query: URLSearchParams, now: number): RobotAnswer | undefined {
  const timestamp = query.get('timestamp');
  const sign = query.get('sign');
  if (!timestamp || !sign) return answer(310000, 'sign not match');
  const expected = createHmac('sha256', secret).update(`${timestamp}\n${secret}`, 'utf8').digest('base64');
  if (sign !== expected) return answer(310000, 'sign not match');
  if (Math.abs(now - Number(timestamp)) > signatureWindowMs) return answer(310000, 'invalid timestamp');
  return undefined;
}

function ipAllowed(robot: Robot, rawIp: string): boolean {
  if (robot.ipAllowList.length === 0) return true;
  const ip = rawIp.replace(/^::ffff:/, '');
  // DingTalk's allow-list is IPv4 only.
  if (!isIPv4(ip)) return false;
  const allowed = new BlockList();
  for (const entry of robot.ipAllowList) {
    const [address = '', prefix] = entry.split('/');
    if (prefix === undefined) allowed.addAddress(address, 'ipv4');
    else allowed.addSubnet(address, Number(prefix), 'ipv4');
  }
  return allowed.check(ip, 'ipv4');
}

interface Readable {
  title: string | undefined;
  text: string;
  /** What the keyword check looks at: the visible title and text, not URLs. */
  scanned: string;
}

function readable(message: Message): Readable {
  const withTitle = (title: string, text: string) => ({ title, text, scanned: `${title}\n${text}` });
  switch (message.msgtype) {
    case 'text':
      return { title: undefined, text: message.text.content, scanned: message.text.content };
    case 'markdown':
      return withTitle(message.markdown.title, message.markdown.text);
    case 'actionCard':
      return withTitle(message.actionCard.title, message.actionCard.text);
    case 'link':
      return withTitle(message.link.title, message.link.text);
    case 'feedCard': {
      const titles = message.feedCard.links.map((item) => item.title).join('\n');
      return { title: undefined, text: titles, scanned: titles };
    }
  }
}

function recordGroupMessage(
  world: World,
  robot: Robot,
  message: Message,
  body: Record<string, unknown>,
  shown: Readable,
  msgUuid: string | undefined,
) {
  const at = 'at' in message ? message.at : undefined;
  const mentions: RecordedMessage['mentions'] = at && {
    ...at,
    notified: [...at.atMobiles, ...at.atUserIds].filter((who) => shown.text.includes(`@${who}`)),
  };
  const sameAsShown = world.messages.some(
    (earlier) =>
      earlier.to.kind === 'group' &&
      earlier.to.robot === robot.token &&
      JSON.stringify(earlier.body) === JSON.stringify(body),
  );
  if (sameAsShown) world.stats.shownDuplicates++;
  world.record({
    to: { kind: 'group', robot: robot.token, name: robot.name },
    type: message.msgtype,
    title: shown.title,
    text: shown.text,
    body,
    msgUuid,
    mentions,
  });
}

function parseJson(raw: Buffer): unknown {
  try {
    const value: unknown = JSON.parse(raw.toString('utf8'));
    return typeof value === 'object' && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}
