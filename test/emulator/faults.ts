import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FaultTarget } from './schemas.ts';
import type { World } from './world.ts';

/** How each API family says "too many requests" (dingtalk-api.md §1.8, §3.4). */
export type ApiFamily = 'robot' | 'topapi' | 'api';

/**
 * Applies the fault injected for `target`, if any. Returns true when the fault has taken over the request
 * (answered, reset or left hanging); latency only delays the normal answer.
 */
export async function applyFault(
  world: World,
  target: FaultTarget,
  family: ApiFamily,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<boolean> {
  const fault = world.takeFault(target);
  if (!fault) return false;
  switch (fault.kind) {
    case 'latency':
      await sleep(fault.ms);
      return false;
    case 'status':
      // What a gateway in front of DingTalk sends: not one of DingTalk's JSON bodies.
      await reply
        .code(fault.status)
        .type('text/html')
        .send(`<html><body><h1>${fault.status}</h1></body></html>`);
      return true;
    case 'reset':
      reply.hijack();
      request.raw.socket.destroy();
      return true;
    case 'hang':
      // Never answered; closing the emulator drops the connection.
      reply.hijack();
      return true;
    case 'throttle':
      await sendThrottled(family, reply);
      return true;
    case 'quotaExhausted':
      await sendQuotaExhausted(family, reply);
      return true;
    case 'errcode':
      await reply.send({ errcode: fault.errcode, errmsg: fault.errmsg });
      return true;
    case 'trickle': {
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { 'content-type': 'application/json' });
      raw.write('{');
      const timer = setInterval(() => raw.write(' '), fault.intervalMs);
      raw.on('close', () => clearInterval(timer));
      return true;
    }
    case 'oversize': {
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      for (let left = fault.bytes; left > 0 && !raw.destroyed; left -= chunk.length) {
        if (!raw.write(left >= chunk.length ? chunk : chunk.subarray(0, left))) {
          await new Promise((resolve) => {
            raw.once('drain', resolve);
            raw.once('close', resolve);
          });
        }
      }
      raw.end();
      return true;
    }
  }
}

/** Month's quota spent (dingtalk-api.md §1.8, §3.4; the webhook's 90030 is reported by users only). */
export function sendQuotaExhausted(family: ApiFamily, reply: FastifyReply) {
  switch (family) {
    case 'robot':
      return reply.send({ errcode: 90030, errmsg: 'webhook over limit' });
    case 'topapi':
      return reply.send({ errcode: 90020, errmsg: '当前企业调用该接口超过每月调用次数限制' });
    case 'api':
      return reply.code(403).send({
        code: 'Forbidden.AccessDenied.ApiCountLimitForOrg',
        message: '企业调用该接口超过每月调用次数限制',
        requestid: randomUUID(),
      });
  }
}

function sendThrottled(family: ApiFamily, reply: FastifyReply) {
  switch (family) {
    case 'robot':
      return reply.send({ errcode: 410100, errmsg: 'send too fast, exceed 20 times per minute' });
    case 'topapi':
      return reply.send({ errcode: 90018, errmsg: '当前企业调用该接口超过qps限制' });
    case 'api':
      return reply.code(403).send({
        code: 'Forbidden.AccessDenied.QpsLimitForAppkeyAndApi',
        message: '调用该接口超过qps限制',
        requestid: randomUUID(),
      });
  }
}
