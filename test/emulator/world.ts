import type { z } from 'zod';
import type { Clock } from './clock.ts';
import {
  type AppGroupSpec,
  type AppSpec,
  appGroupSpecSchema,
  appSpecSchema,
  type CardTemplateSpec,
  cardTemplateSpecSchema,
  type Fault,
  type FaultTarget,
  faultSchema,
  type RecordedCard,
  type RecordedDing,
  type RecordedMessage,
  type RobotSpec,
  robotSpecSchema,
  type Stats,
  type UserSpec,
  userSpecSchema,
} from './schemas.ts';

/** Everything the emulated DingTalk knows: robots, apps, users, issued tokens, received messages, faults. */

export type Robot = z.output<typeof robotSpecSchema> & {
  token: string;
  /** Times of accepted sends in the current rate window. */
  recentSends: number[];
  blockedUntil: number;
  seenMsgUuids: Set<string>;
};
export type App = z.output<typeof appSpecSchema> & { clientId: string; robotCode: string };
export type User = z.output<typeof userSpecSchema> & { userId: string };
export type AppGroup = z.output<typeof appGroupSpecSchema> & { openConversationId: string };
type ActiveFault = z.output<typeof faultSchema>;

/** A one-to-one message by processQueryKey, for readStatus: who it went to and who has read it (when). */
export interface OneToOneMessage {
  clientId: string;
  robotCode: string;
  sentAt: number;
  userIds: string[];
  readAt: Map<string, number>;
}

export interface IssuedToken {
  token: string;
  clientId: string;
  expiresAt: number;
}

export type World = ReturnType<typeof createWorld>;

export function createWorld(clock: Clock) {
  const robots = new Map<string, Robot>();
  const apps = new Map<string, App>();
  const users = new Map<string, User>();
  const appGroups = new Map<string, AppGroup>();
  const tokens = new Map<string, IssuedToken>();
  const faults = new Map<string, ActiveFault>();
  const messages: RecordedMessage[] = [];
  const cards = new Map<string, RecordedCard>();
  const cardTemplates = new Map<string, z.output<typeof cardTemplateSpecSchema>>();
  const dings: RecordedDing[] = [];
  const oneToOne = new Map<string, OneToOneMessage>();
  const stats: Stats = emptyStats();
  /** Calls per robot token or app clientId and month, for the monthly limits. */
  const monthlyCalls = new Map<string, number>();
  let nextId = 1;

  const faultKey = (target: FaultTarget) =>
    'robot' in target ? `robot:${target.robot}` : `app:${target.app}`;

  return {
    clock,
    robots,
    apps,
    users,
    appGroups,
    tokens,
    messages,
    cards,
    cardTemplates,
    dings,
    oneToOne,
    stats,

    putRobot(token: string, spec: RobotSpec) {
      robots.set(token, {
        ...robotSpecSchema.parse(spec),
        token,
        recentSends: [],
        blockedUntil: 0,
        seenMsgUuids: new Set(),
      });
    },
    putApp(clientId: string, spec: AppSpec) {
      const parsed = appSpecSchema.parse(spec);
      apps.set(clientId, { ...parsed, clientId, robotCode: parsed.robotCode ?? clientId });
    },
    putUser(userId: string, spec: UserSpec) {
      users.set(userId, { ...userSpecSchema.parse(spec), userId });
    },
    putAppGroup(openConversationId: string, spec: AppGroupSpec) {
      appGroups.set(openConversationId, { ...appGroupSpecSchema.parse(spec), openConversationId });
    },
    /** The group by openConversationId if the app's robot is in it: where the robot may post. */
    appGroupOf(openConversationId: string, app: App): AppGroup | undefined {
      const group = appGroups.get(openConversationId);
      return group?.robotCodes.includes(app.robotCode) ? group : undefined;
    },
    /** The app a still-valid access token belongs to. */
    appForToken(token: string | undefined): App | undefined {
      const issued = token === undefined ? undefined : tokens.get(token);
      if (!issued || issued.expiresAt <= clock.now()) return undefined;
      return apps.get(issued.clientId);
    },
    revokeTokens(clientId: string) {
      for (const [token, issued] of tokens) if (issued.clientId === clientId) tokens.delete(token);
    },
    putCardTemplate(templateId: string, spec: CardTemplateSpec) {
      cardTemplates.set(templateId, cardTemplateSpecSchema.parse(spec));
    },
    /** Marks the member's one-to-one messages (or only the one with processQueryKey) as read now. */
    markRead(userId: string, processQueryKey?: string) {
      for (const [key, message] of oneToOne) {
        if (processQueryKey !== undefined && key !== processQueryKey) continue;
        if (message.userIds.includes(userId) && !message.readAt.has(userId))
          message.readAt.set(userId, clock.now());
      }
    },
    record(message: Omit<RecordedMessage, 'id' | 'receivedAt'>) {
      messages.push({ ...message, id: nextId++, receivedAt: clock.now() });
    },
    setFault(target: FaultTarget, fault: Fault) {
      faults.set(faultKey(target), faultSchema.parse(fault));
    },
    /** The fault to apply to this request, if any; counts down faults limited to a number of requests. */
    takeFault(target: FaultTarget): ActiveFault | undefined {
      const key = faultKey(target);
      const fault = faults.get(key);
      if (!fault) return undefined;
      if (fault.times !== undefined) {
        if (fault.times <= 1) faults.delete(key);
        else faults.set(key, { ...fault, times: fault.times - 1 });
      }
      return fault;
    },
    clearFaults() {
      faults.clear();
    },
    /**
     * Counts a call against a robot's or app's monthly limit; false when the month's calls were already
     * spent (the call is refused and not counted). Months are China Standard Time's (UTC+8, no DST).
     */
    spendMonthly(key: string, limit: number | undefined): boolean {
      if (limit === undefined) return true;
      const month = new Date(clock.now() + 8 * 3_600_000).toISOString().slice(0, 7);
      const counted = monthlyCalls.get(`${key}@${month}`) ?? 0;
      if (counted >= limit) return false;
      monthlyCalls.set(`${key}@${month}`, counted + 1);
      return true;
    },
    count(counter: Record<string, number>, key: string) {
      counter[key] = (counter[key] ?? 0) + 1;
    },
    reset() {
      for (const collection of [
        robots,
        apps,
        users,
        appGroups,
        tokens,
        faults,
        cards,
        cardTemplates,
        oneToOne,
        monthlyCalls,
      ]) {
        collection.clear();
      }
      messages.length = 0;
      dings.length = 0;
      Object.assign(stats, emptyStats());
    },
  };
}

function emptyStats(): Stats {
  return {
    tokenRequests: {},
    batchSendCalls: {},
    groupSendCalls: {},
    robotSends: {},
    duplicatesSuppressed: 0,
    shownDuplicates: 0,
    cardCalls: {},
    streamOpens: {},
    callbacks: { answered: 0, late: 0, unanswered: 0 },
  };
}
