import {
  DingTalkConditionReason,
  type DingTalkServiceSpec,
  InvalidResourceError,
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
 * Each service's spec parsed once: the informer keeps a cached object's spec while its generation stays
 * (runtime/informer.ts), so a status write replaces the object but not the spec, and the parse kept per
 * spec object serves the reconciler (again each time a referenced Secret or ConfigMap changes), every
 * alarm and every reader that walks all services. Shared: callers only read it.
 */
const parsedSpecs = new WeakMap<object, DingTalkServiceSpec | InvalidResourceError>();

/**
 * The cached service's spec as the schema leaves it (defaults applied); throws InvalidResourceError naming
 * the fields it rejects. Status is the API server's to validate: only the spec decides what to send.
 */
export function parseServiceSpec(raw: Readonly<CustomObject>): DingTalkServiceSpec {
  const key = typeof raw.spec === 'object' && raw.spec !== null ? raw.spec : undefined;
  let parsed = key && parsedSpecs.get(key);
  if (!parsed) {
    try {
      parsed = sharingUnchanged(parseDingTalkService({ ...raw, status: undefined }).spec, raw.spec);
    } catch (err) {
      if (!(err instanceof InvalidResourceError)) throw err;
      parsed = err;
    }
    if (key) parsedSpecs.set(key, parsed);
  }
  if (parsed instanceof InvalidResourceError) throw parsed;
  return parsed;
}

/** The cached service's parsed spec; undefined when it is invalid. */
export function serviceSpec(raw: Readonly<CustomObject>): DingTalkServiceSpec | undefined {
  try {
    return parseServiceSpec(raw);
  } catch (err) {
    if (err instanceof InvalidResourceError) return undefined;
    throw err;
  }
}

/**
 * `parsed` with each part that equals the same part of `source` replaced by it. A parse copies every
 * object and array; kept next to the cached object, the copy would hold every spec twice, when most of it
 * (groups, members) is what the cache holds already. Neither is ever modified.
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
    const spec = raw ? serviceSpec(raw) : undefined;
    if (!spec) {
      const reason = raw ? DingTalkConditionReason.InvalidSpec : DingTalkConditionReason.ServiceNotFound;
      const message = raw
        ? `DingTalkService "${ref.name}" is invalid`
        : `DingTalkService "${ref.name}" not found`;
      planned.push({ kind: 'Group', service: ref.name, name: UNKNOWN_TARGET, problem: { reason, message } });
      continue;
    }
    const sendTo = ref.sendTo ?? spec.sendTo;
    const appGroups = spec.member?.groups ?? [];
    const isAppGroup = (name: string) => appGroups.some((g) => g.name === name);
    if (sendTo.includes('Group') && spec.sendTo.includes('Group')) {
      const groups = spec.groups ?? [];
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
    const toAppGroups = sendTo.includes('AppGroup') && spec.sendTo.includes('AppGroup');
    if (spec.member && (toAppGroups || ref.groups?.some(isAppGroup))) {
      planned.push(...planAppGroups(namespace, ref, spec.member, toAppGroups, reader));
    }
    if (sendTo.includes('Member') && spec.member && spec.sendTo.includes('Member')) {
      const resolution = resolveMemberApp(namespace, spec.member, reader);
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
  member: NonNullable<DingTalkServiceSpec['member']>,
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
