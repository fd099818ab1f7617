import Fastify from 'fastify';
import { createClock } from './clock.ts';
import { createEmulatorControl, type EmulatorControl } from './control-client.ts';
import { controlPrefix, controlRoutes } from './control-routes.ts';
import { dingTalkRoutes } from './dingtalk-routes.ts';
import { renderPage } from './page.ts';
import {
  createStreamGateway,
  defaultStreamGatewayOptions,
  type StreamGatewayOptions,
} from './stream-gateway.ts';
import { createWorld } from './world.ts';

export interface EmulatorOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  /** The emulator's time source; the control API can still advance it. */
  now?: () => number;
  /** Stream gateway timings; tests shorten the answer deadline or the disconnect grace. */
  stream?: Partial<StreamGatewayOptions>;
}

export interface RunningEmulator {
  /** Base URL for every DingTalk API (oapi and api share one origin here). */
  url: string;
  control: EmulatorControl;
  close(): Promise<void>;
}

/** Starts the DingTalk emulator: DingTalk's endpoints, the control API under /_control, and the page at /. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const world = createWorld(createClock(options.now));
  // Hanging-fault connections must not keep close() waiting.
  const server = Fastify({ forceCloseConnections: true });
  const gateway = createStreamGateway(world, { ...defaultStreamGatewayOptions, ...options.stream });
  // Upgraded sockets are no longer the HTTP server's: closing it would wait for them.
  server.server.on('upgrade', (request, socket, head) => gateway.upgrade(request, socket, head));
  server.addHook('onClose', async () => gateway.close());

  await server.register(async (scope) => dingTalkRoutes(scope, world, gateway));
  await server.register(async (scope) => controlRoutes(scope, world, gateway), { prefix: controlPrefix });
  server.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(renderPage(world)));

  const host = options.host ?? '127.0.0.1';
  await server.listen({ port: options.port ?? 0, host });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { url, control: createEmulatorControl(url), close: () => server.close() };
}
