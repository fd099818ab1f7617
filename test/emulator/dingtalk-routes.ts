import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ApiAnswer, batchSend, groupSend, issueToken, userById, userIdByMobile } from './app-api.ts';
import { createAndDeliverCard, updateCard } from './card-api.ts';
import { readStatus, sendDing } from './ding-api.ts';
import { type ApiFamily, applyFault } from './faults.ts';
import { handleRobotSend } from './robot-send.ts';
import type { StreamGateway } from './stream-gateway.ts';
import type { World } from './world.ts';

/** DingTalk's own endpoints. Bodies arrive raw: the robot API answers bad JSON and content types itself. */
export async function dingTalkRoutes(server: FastifyInstance, world: World, gateway: StreamGateway) {
  server.removeAllContentTypeParsers();
  server.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  server.post('/robot/send', async (request, reply) => {
    const query = queryOf(request);
    if (await applyFault(world, { robot: query.get('access_token') ?? '' }, 'robot', request, reply))
      return reply;
    return handleRobotSend(world, {
      query,
      contentType: request.headers['content-type'],
      body: request.body as Buffer | undefined,
      ip: request.ip,
    });
  });

  server.post('/v1.0/oauth2/accessToken', async (request, reply) => {
    const body = jsonOf(request);
    const appKey = (body as { appKey?: unknown } | undefined)?.appKey;
    const handled = await applyFault(
      world,
      { app: typeof appKey === 'string' ? appKey : '' },
      'api',
      request,
      reply,
    );
    return handled ? reply : answer(reply, issueToken(world, body));
  });

  server.post('/v1.0/gateway/connections/open', async (request, reply) => {
    const body = jsonOf(request);
    const clientId = (body as { clientId?: unknown } | undefined)?.clientId;
    const target = { app: typeof clientId === 'string' ? clientId : '' };
    if (await applyFault(world, target, 'api', request, reply)) return reply;
    return answer(reply, gateway.open(body, request.headers.host ?? 'localhost'));
  });

  const withApp = (
    path: string,
    family: ApiFamily,
    handle: (app: ReturnType<World['appForToken']>, body: unknown, query: URLSearchParams) => ApiAnswer,
    method: 'GET' | 'POST' | 'PUT' = 'POST',
  ) =>
    server.route({
      method,
      url: path,
      handler: async (request, reply) => {
        const token =
          family === 'api'
            ? headerOf(request, 'x-acs-dingtalk-access-token')
            : queryOf(request).get('access_token');
        const app = world.appForToken(token ?? undefined);
        if (app && (await applyFault(world, { app: app.clientId }, family, request, reply))) return reply;
        return answer(reply, handle(app, jsonOf(request), queryOf(request)));
      },
    });

  withApp('/v1.0/robot/oToMessages/batchSend', 'api', (app, body) => batchSend(world, app, body));
  withApp('/v1.0/robot/groupMessages/send', 'api', (app, body) => groupSend(world, app, body));
  withApp('/topapi/v2/user/getbymobile', 'topapi', (app, body) => userIdByMobile(world, app, body));
  withApp('/topapi/v2/user/get', 'topapi', (app, body) => userById(world, app, body));
  withApp('/v1.0/card/instances/createAndDeliver', 'api', (app, body) =>
    createAndDeliverCard(world, app, body),
  );
  withApp('/v1.0/card/instances', 'api', (app, body) => updateCard(world, app, body), 'PUT');
  withApp('/v1.0/robot/ding/send', 'api', (app, body) => sendDing(world, app, body));
  withApp(
    '/v1.0/robot/oToMessages/readStatus',
    'api',
    (app, _body, query) => readStatus(world, app, query),
    'GET',
  );
}

function answer(reply: FastifyReply, { status, body }: ApiAnswer) {
  return reply.code(status).send(body);
}

function queryOf(request: FastifyRequest): URLSearchParams {
  return new URL(request.url, 'http://emulator').searchParams;
}

function headerOf(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function jsonOf(request: FastifyRequest): unknown {
  const raw = request.body;
  if (!Buffer.isBuffer(raw)) return undefined;
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}
