import {
  DingTalkConditionReason,
  type DingTalkService,
  parseDingTalkService,
  type ServiceRef,
} from '../api/index.ts';
import type { CustomObject } from '../manager/context.ts';
import type { MemberEntry } from './members-csv.ts';
import {
  type ReferenceReader,
  type ResolvedGroup,
  type ResolvedMemberApp,
  resolveGroup,
  resolveMemberApp,
} from './resolve.ts';

/** A target problem that makes every delivery to it fail until the configuration changes. */
export interface TargetProblem {
  reason: string;
  message: string;
}

export type PlannedTarget =
  | { kind: 'Group'; service: string; name: string; group?: ResolvedGroup; problem?: TargetProblem }
  | {
      kind: 'Member';
      service: string;
      /** The ledger's name for it: members, or unlisted-members for names the service does not list. */
      ledgerName: string;
      /** Each member's userId or mobile, as listed. */
      identities: string[];
      app?: ResolvedMemberApp;
      recipients: MemberEntry[];
      problem?: TargetProblem;
    }
  | {
      kind: 'AppGroup';
      service: string;
      /** The group's name in spec.member.groups, also its ledger name. */
      name: string;
      openConversationId?: string;
      app?: ResolvedMemberApp;
      /**
       * Who may act on the group's cards: the members the rule picks (all of the service's when it picks
       * none). DingTalk offers no API listing an ordinary group's members, so the roster decides.
       */
      actors: MemberEntry[];
      problem?: TargetProblem;
    };

export interface ServiceLookup {
  service(namespace: string, name: string): Readonly<CustomObject> | undefined;
}

/** Placeholder target name when a service cannot be read, so the ledger still shows why. */
export const UNKNOWN_TARGET = '-';
/** Ledger names of member targets: one compact entry for the member set, one for names not listed. */
export const MEMBERS = 'members';
export const UNLISTED_MEMBERS = 'unlisted-members';

export function memberIdentity(member: MemberEntry): string {
  return member.userId ?? member.mobile ?? member.name ?? UNKNOWN_TARGET;
}

/**
 * Services parsed once per version: the informer cache replaces an object when it changes, so the
 * parse of an object it still holds is the parse of its current version. Not re-parsed for every alarm,
 * nor by every reader that walks all services after a change to one of them. Shared: callers only read it.
 */
const parsedServices = new WeakMap<object, DingTalkService | null>();

/** The cached object's parse; undefined when it is invalid. */
export function parsedService(raw: Readonly<CustomObject>): DingTalkService | undefined {
  let parsed = parsedServices.get(raw);
  if (parsed === undefined) {
    try {
      parsed = sharingUnchanged(parseDingTalkService(raw), raw);
    } catch {
      parsed = null;
    }
    parsedServices.set(raw, parsed);
  }
  return parsed ?? undefined;
}

/**
 * `parsed` with each part that equals the same part of `source` replaced by it. A parse copies every
 * object and array; kept next to the cached object, the copy would hold every service twice, when most of
 * it (metadata, status, members) is what the cache holds already. Neither is ever modified.
 */
function sharingUnchanged<T>(parsed: T, source: unknown): T {
  if (parsed === source) return parsed;
  if (!isPlainData(parsed) || !isPlainData(source) || Array.isArray(parsed) !== Array.isArray(source))
    return parsed;
  const from = source as Record<string, unknown>;
  const into = parsed as Record<string, unknown>;
  const keys = Object.keys(into);
  let same = keys.length === Object.keys(from).length;
  for (const key of keys) {
    if (!Object.hasOwn(from, key)) {
      same = false;
      continue;
    }
    const shared = sharingUnchanged(into[key], from[key]);
    into[key] = shared;
    if (shared !== from[key]) same = false;
  }
  return same ? (source as T) : parsed;
}

/** A JSON object or array, whose parts can be compared and shared; not a value the parse made (a Date, a Map). */
function isPlainData(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false;
  return Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype;
}

/**
 * The concrete targets of a rule's service references: each group the rule names (or all of the
 * service's groups) and the member set, with credentials resolved from the cache, or the problem that
 * prevents it. Services are read from the rule's own namespace only.
 */
export function planTargets(
  namespace: string,
  refs: readonly ServiceRef[],
  lookup: ServiceLookup,
  reader: ReferenceReader,
): PlannedTarget[] {
  const planned: PlannedTarget[] = [];
  for (const ref of refs) {
    const raw = lookup.service(namespace, ref.name);
    const service = raw ? parsedService(raw) : undefined;
    if (!service) {
      const reason = raw ? DingTalkConditionReason.InvalidSpec : DingTalkConditionReason.ServiceNotFound;
      const message = raw
        ? `DingTalkService "${ref.name}" is invalid`
        : `DingTalkService "${ref.name}" not found`;
      planned.push({ kind: 'Group', service: ref.name, name: UNKNOWN_TARGET, problem: { reason, message } });
      continue;
    }
    const sendTo = ref.sendTo ?? service.spec.sendTo;
    const appGroups = service.spec.member?.groups ?? [];
    const isAppGroup = (name: string) => appGroups.some((g) => g.name === name);
    if (sendTo.includes('Group') && service.spec.sendTo.includes('Group')) {
      const groups = service.spec.groups ?? [];
      for (const name of ref.groups?.filter((n) => !isAppGroup(n)) ?? groups.map((g) => g.name)) {
        const group = groups.find((g) => g.name === name);
        if (!group) {
          planned.push({
            kind: 'Group',
            service: ref.name,
            name,
            problem: {
              reason: DingTalkConditionReason.TargetNotFound,
              message: `DingTalkService "${ref.name}" has no group "${name}"`,
            },
          });
          continue;
        }
        const resolution = resolveGroup(namespace, group, reader);
        planned.push(
          resolution.ok
            ? { kind: 'Group', service: ref.name, name, group: resolution.value }
            : { kind: 'Group', service: ref.name, name, problem: resolution.problem },
        );
      }
    }
    const toAppGroups = sendTo.includes('AppGroup') && service.spec.sendTo.includes('AppGroup');
    if (service.spec.member && (toAppGroups || ref.groups?.some(isAppGroup))) {
      planned.push(...planAppGroups(namespace, ref, service.spec.member, toAppGroups, reader));
    }
    if (sendTo.includes('Member') && service.spec.member && service.spec.sendTo.includes('Member')) {
      const resolution = resolveMemberApp(namespace, service.spec.member, reader);
      if (!resolution.ok) {
        planned.push({
          kind: 'Member',
          service: ref.name,
          ledgerName: MEMBERS,
          identities: [UNKNOWN_TARGET],
          recipients: [],
          problem: resolution.problem,
        });
        continue;
      }
      const members = resolution.value.members;
      const chosen = ref.members
        ? members.filter(
            (m) => ref.members?.includes(m.userId ?? '') || ref.members?.includes(m.mobile ?? ''),
          )
        : members;
      const missing = (ref.members ?? []).filter(
        (id) => !members.some((m) => m.userId === id || m.mobile === id),
      );
      planned.push({
        kind: 'Member',
        service: ref.name,
        ledgerName: MEMBERS,
        identities: chosen.map(memberIdentity),
        app: resolution.value,
        recipients: chosen,
      });
      if (missing.length > 0) {
        planned.push({
          kind: 'Member',
          service: ref.name,
          ledgerName: UNLISTED_MEMBERS,
          identities: missing,
          recipients: [],
          problem: {
            reason: DingTalkConditionReason.TargetNotFound,
            message: `not members of DingTalkService "${ref.name}": ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ` and ${missing.length - 20} more` : ''}`,
          },
        });
      }
    }
  }
  return planned;
}

/**
 * The groups of spec.member.groups the reference names (all of them when it names no group), each with
 * the app's credentials and who may act on its cards; a group named while AppGroup is not sent to is a
 * problem the ledger shows rather than a target silently skipped.
 */
function planAppGroups(
  namespace: string,
  ref: ServiceRef,
  member: NonNullable<DingTalkService['spec']['member']>,
  sendsToAppGroups: boolean,
  reader: ReferenceReader,
): PlannedTarget[] {
  const groups = member.groups ?? [];
  const named = ref.groups?.filter((name) => groups.some((g) => g.name === name));
  if (!sendsToAppGroups) {
    return (named ?? []).map((name) => ({
      kind: 'AppGroup',
      service: ref.name,
      name,
      actors: [],
      problem: {
        reason: DingTalkConditionReason.TargetNotFound,
        message: `group "${name}" of DingTalkService "${ref.name}" is reached through the app's robot, but sendTo does not contain AppGroup`,
      },
    }));
  }
  const resolution = resolveMemberApp(namespace, member, reader);
  return (named ?? groups.map((g) => g.name)).map((name): PlannedTarget => {
    const openConversationId = groups.find((g) => g.name === name)?.openConversationId;
    if (!resolution.ok)
      return { kind: 'AppGroup', service: ref.name, name, actors: [], problem: resolution.problem };
    const members = resolution.value.members;
    const actors = ref.members
      ? members.filter((m) => ref.members?.includes(m.userId ?? '') || ref.members?.includes(m.mobile ?? ''))
      : members;
    return { kind: 'AppGroup', service: ref.name, name, openConversationId, app: resolution.value, actors };
  });
}

/** The ledger's name of a planned target. */
export function targetNames(target: PlannedTarget): string[] {
  return target.kind === 'Member' ? [target.ledgerName] : [target.name];
}
