import type { ClickDelivery, ClickRequest } from './card-click.ts';
import { controlPrefix } from './control-routes.ts';
import {
  type AppGroupSpec,
  type AppSpec,
  type CardTemplateSpec,
  type Fault,
  type FaultTarget,
  type MessageFilter,
  type RobotSpec,
  recordedCardSchema,
  recordedDingSchema,
  recordedMessageSchema,
  statsSchema,
  type UserSpec,
} from './schemas.ts';

export type EmulatorControl = ReturnType<typeof createEmulatorControl>;

/** Typed access to a running emulator's control API, in-process or in another process. */
export function createEmulatorControl(baseUrl: string) {
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(new URL(`${controlPrefix}${path}`, baseUrl), {
      method,
      ...(body !== undefined && {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    });
    const json: unknown = await response.json();
    if (!response.ok) throw new Error(`emulator control ${method} ${path}: ${JSON.stringify(json)}`);
    return json;
  };
  const id = encodeURIComponent;

  return {
    reset: () => call('POST', '/reset'),
    putRobot: (token: string, spec: RobotSpec = {}) => call('PUT', `/robots/${id(token)}`, spec),
    putApp: (clientId: string, spec: AppSpec) => call('PUT', `/apps/${id(clientId)}`, spec),
    putUser: (userId: string, spec: UserSpec) => call('PUT', `/users/${id(userId)}`, spec),
    /** A group by openConversationId, with the app robots (robotCodes) and members in it; replaced whole. */
    putAppGroup: (openConversationId: string, spec: AppGroupSpec) =>
      call('PUT', `/app-groups/${id(openConversationId)}`, spec),
    /** Invalidates the app's tokens early, as when DingTalk revokes them. */
    revokeTokens: (clientId: string) => call('POST', `/apps/${id(clientId)}/revoke-tokens`),
    /** Messages received, oldest first. */
    async messages(filter: MessageFilter = {}) {
      const query = new URLSearchParams(
        Object.entries(filter).filter((entry): entry is [string, string] => !!entry[1]),
      );
      return recordedMessageSchema.array().parse(await call('GET', `/messages?${query}`));
    },
    async stats() {
      return statsSchema.parse(await call('GET', '/stats'));
    },
    /** Cards created, with their current data and every earlier version. */
    async cards() {
      return recordedCardSchema.array().parse(await call('GET', '/cards'));
    },
    /** The buttons the page shows on cards of this template. */
    putCardTemplate: (templateId: string, spec: CardTemplateSpec) =>
      call('PUT', `/card-templates/${id(templateId)}`, spec),
    async dings() {
      return recordedDingSchema.array().parse(await call('GET', '/dings'));
    },
    /** The member reads their one-to-one messages (or only the one with processQueryKey). */
    markRead: (userId: string, processQueryKey?: string) =>
      call('POST', `/users/${id(userId)}/read`, processQueryKey === undefined ? {} : { processQueryKey }),
    /** The open Stream connections (of one app). */
    streamConnections: async (clientId?: string) =>
      (await call('GET', `/stream/connections${clientId ? `?clientId=${id(clientId)}` : ''}`)) as {
        id: string;
        clientId: string;
        disconnecting: boolean;
        pingsAnswered: number;
      }[],
    /** Pings each connection now: whether it answered with the ping's data. */
    pingStream: async (clientId?: string) =>
      (await call('POST', '/stream/ping', { clientId })) as { id: string; answered: boolean }[],
    /** SYSTEM disconnect to each connection; each closes after the gateway's grace period. */
    disconnectStream: (clientId?: string) => call('POST', '/stream/disconnect', { clientId }),
    /** Ends each connection abruptly, without a disconnect frame. */
    dropStream: (clientId?: string) => call('POST', '/stream/drop', { clientId }),
    /** A member clicks a card button: the callback goes over the Stream; what came of each delivery. */
    click: async (outTrackId: string, request: ClickRequest) =>
      (await call('POST', `/cards/${id(outTrackId)}/click`, request)) as { deliveries: ClickDelivery[] },
    setFault: (target: FaultTarget, fault: Fault) => call('PUT', '/faults', { target, fault }),
    clearFaults: () => call('DELETE', '/faults'),
    /** Moves the emulator's clock forward: rate windows, blocks, signatures and tokens all follow it. */
    advanceClock: (ms: number) => call('POST', '/clock/advance', { ms }),
  };
}
