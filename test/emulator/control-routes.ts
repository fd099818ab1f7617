import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { clickCard, clickRequestSchema } from './card-click.ts';
import {
  advanceClockSchema,
  appGroupSpecSchema,
  appSpecSchema,
  cardTemplateSpecSchema,
  messageFilterSchema,
  robotSpecSchema,
  setFaultSchema,
  userSpecSchema,
} from './schemas.ts';
import type { StreamGateway } from './stream-gateway.ts';
import type { World } from './world.ts';

export const controlPrefix = '/_control';

/** The JSON control API tests use to arrange the emulated DingTalk and to read what it received. */
export async function controlRoutes(server: FastifyInstance, world: World, gateway: StreamGateway) {
  // The page's buttons are plain HTML forms.
  server.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
  );
  const parse = <S extends z.ZodType>(
    schema: S,
    value: unknown,
    reply: FastifyReply,
  ): z.output<S> | undefined => {
    const parsed = schema.safeParse(value ?? {});
    if (parsed.success) return parsed.data;
    void reply.code(400).send({ error: z.prettifyError(parsed.error) });
    return undefined;
  };
  const idParam = z.object({ id: z.string().min(1) });

  server.post('/reset', async () => {
    world.reset();
    gateway.drop();
    return {};
  });

  server.put('/robots/:id', async (request, reply) => {
    const { id } = idParam.parse(request.params);
    const spec = parse(robotSpecSchema, request.body, reply);
    if (spec) world.putRobot(id, spec);
    return reply.sent ? reply : {};
  });

  server.put('/apps/:id', async (request, reply) => {
    const { id } = idParam.parse(request.params);
    const spec = parse(appSpecSchema, request.body, reply);
    if (spec) world.putApp(id, spec);
    return reply.sent ? reply : {};
  });

  server.post('/apps/:id/revoke-tokens', async (request) => {
    world.revokeTokens(idParam.parse(request.params).id);
    return {};
  });

  server.put('/users/:id', async (request, reply) => {
    const { id } = idParam.parse(request.params);
    const spec = parse(userSpecSchema, request.body, reply);
    if (spec) world.putUser(id, spec);
    return reply.sent ? reply : {};
  });

  server.put('/app-groups/:id', async (request, reply) => {
    const { id } = idParam.parse(request.params);
    const spec = parse(appGroupSpecSchema, request.body, reply);
    if (spec) world.putAppGroup(id, spec);
    return reply.sent ? reply : {};
  });

  server.get('/messages', async (request, reply) => {
    const filter = parse(messageFilterSchema, request.query, reply);
    if (!filter) return reply;
    return world.messages.filter(
      ({ to }) =>
        (filter.robot === undefined || (to.kind === 'group' && to.robot === filter.robot)) &&
        (filter.userId === undefined || (to.kind === 'member' && to.userId === filter.userId)) &&
        (filter.openConversationId === undefined ||
          (to.kind === 'appGroup' && to.openConversationId === filter.openConversationId)),
    );
  });

  server.get('/stats', async () => world.stats);

  server.get('/cards', async () => [...world.cards.values()]);

  server.put('/card-templates/:id', async (request, reply) => {
    const { id } = idParam.parse(request.params);
    const spec = parse(cardTemplateSpecSchema, request.body, reply);
    if (spec) world.putCardTemplate(id, spec);
    return reply.sent ? reply : {};
  });

  server.get('/dings', async () => world.dings);

  const appParam = z.object({ clientId: z.string().min(1).optional() });
  server.get('/stream/connections', async (request, reply) => {
    const filter = parse(appParam, request.query, reply);
    return filter ? gateway.list(filter.clientId) : reply;
  });
  server.post('/stream/ping', async (request, reply) => {
    const filter = parse(appParam, request.body, reply);
    return filter ? gateway.pingNow(filter.clientId) : reply;
  });
  server.post('/stream/disconnect', async (request, reply) => {
    const filter = parse(appParam, request.body, reply);
    return filter ? { connections: gateway.disconnect(filter.clientId) } : reply;
  });
  server.post('/stream/drop', async (request, reply) => {
    const filter = parse(appParam, request.body, reply);
    return filter ? { connections: gateway.drop(filter.clientId) } : reply;
  });

  // A click as a test sends it (JSON), or as the page's form does (then back to the page).
  const formClickSchema = z.object({
    userId: z.string().min(1),
    action: z.string().transform((text, context) => {
      const action = z
        .object({ actionId: z.string().min(1), params: z.record(z.string(), z.unknown()) })
        .safeParse(parseJson(text));
      if (!action.success)
        context.addIssue({ code: 'custom', message: 'action must be {actionId, params} JSON' });
      return action.data ?? { actionId: '', params: {} };
    }),
  });
  server.post('/cards/:id/click', async (request, reply) => {
    const { id } = idParam.parse(request.params);
    const fromPage =
      request.headers['content-type']?.startsWith('application/x-www-form-urlencoded') ?? false;
    const form = fromPage ? parse(formClickSchema, request.body, reply) : undefined;
    const click = form
      ? { userId: form.userId, actionIds: [form.action.actionId], params: form.action.params }
      : parse(clickRequestSchema, request.body, reply);
    if (!click) return reply;
    const report = await clickCard(world, gateway, id, click);
    if (!report) return reply.code(404).send({ error: `no card ${id}; name the app with clientId` });
    return fromPage ? reply.redirect('/', 303) : report;
  });

  server.post('/users/:id/read', async (request, reply) => {
    const { id } = idParam.parse(request.params);
    const body = parse(z.object({ processQueryKey: z.string().min(1).optional() }), request.body, reply);
    if (body) world.markRead(id, body.processQueryKey);
    return reply.sent ? reply : {};
  });

  server.put('/faults', async (request, reply) => {
    const fault = parse(setFaultSchema, request.body, reply);
    if (fault) world.setFault(fault.target, fault.fault);
    return reply.sent ? reply : {};
  });

  server.delete('/faults', async () => {
    world.clearFaults();
    return {};
  });

  server.post('/clock/advance', async (request, reply) => {
    const advance = parse(advanceClockSchema, request.body, reply);
    if (advance) world.clock.advance(advance.ms);
    return reply.sent ? reply : { now: world.clock.now() };
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
