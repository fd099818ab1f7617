import type { V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import type { ConfigMapKeyRef, GroupTarget, MemberTarget, PoolRobot, SecretKeyRef } from '../api/index.ts';
import { DingTalkConditionReason } from '../api/index.ts';
import { type MemberEntry, parseMembersCsv } from './members-csv.ts';

/**
 * Turns a DingTalkService's references (Secrets and ConfigMaps in its own namespace) into usable
 * targets. Each target resolves on its own, so one missing Secret leaves the other targets usable.
 * Problems name the reference and the field, never a value.
 */

export interface ReferenceReader {
  secret(namespace: string, name: string): Readonly<V1Secret> | undefined;
  configMap(namespace: string, name: string): Readonly<V1ConfigMap> | undefined;
  /** When the operator may not read the object (403): what would grant it. */
  denied?(kind: 'Secret' | 'ConfigMap', namespace: string, name: string): string | undefined;
}

export interface ReferenceProblem {
  reason:
    | typeof DingTalkConditionReason.SecretNotFound
    | typeof DingTalkConditionReason.SecretAccessDenied
    | typeof DingTalkConditionReason.SecretKeyNotFound
    | typeof DingTalkConditionReason.ConfigMapNotFound
    | typeof DingTalkConditionReason.ConfigMapKeyNotFound
    | typeof DingTalkConditionReason.InvalidSpec;
  /** The spec field holding the reference, e.g. spec.groups[ops].webhook. */
  field: string;
  message: string;
}

export type Resolution<T> = { ok: true; value: T } | { ok: false; problem: ReferenceProblem };

/** One robot of a group: a credential set DingTalk knows as one robot, with its own rate limit. */
export interface ResolvedRobot {
  /** The robot's name in spec.groups[].robots; the group's name for a group with a single webhook. */
  name: string;
  /** The whole webhook URL or its bare access_token — a credential. */
  webhook: string;
  /** The 加签 secret — a credential. */
  secret?: string;
  keywords: string[];
}

export interface ResolvedGroup {
  name: string;
  /** Every robot whose Secrets resolved, in spec order; never empty. */
  robots: ResolvedRobot[];
  /** True when the group lists robots (a pool), rather than a single webhook. */
  pool: boolean;
  /** Robots of a pool whose Secrets did not resolve: left out until fixed (the service's status says why). */
  unresolved: { name: string; problem: ReferenceProblem }[];
  rateLimitPerMinute: number;
}

export interface ResolvedMemberApp {
  clientId: string;
  /** A credential. */
  clientSecret: string;
  robotCode: string;
  /** The interactive card template alarms of interactive rules go out as (spec.member.cardTemplateId). */
  cardTemplateId?: string;
  /** Inline members first, then those of membersFrom. */
  members: MemberEntry[];
}

export type { MemberEntry };

/**
 * The group's robots with their credentials. A pool stays usable while one of its robots resolves:
 * the others are left out, each with its problem; with none left, the first problem is the group's.
 */
export function resolveGroup(
  namespace: string,
  group: GroupTarget,
  reader: ReferenceReader,
): Resolution<ResolvedGroup> {
  const field = `spec.groups[${group.name}]`;
  const specs = group.robots
    ? group.robots.map((robot) => ({ ...robot, field: `${field}.robots[${robot.name}]` }))
    : [{ ...group, webhook: group.webhook ?? { name: '', key: '' }, field }];
  const robots: ResolvedRobot[] = [];
  const unresolved: ResolvedGroup['unresolved'] = [];
  for (const spec of specs) {
    const robot = resolveRobot(namespace, spec, reader);
    if (robot.ok) robots.push(robot.value);
    else unresolved.push({ name: spec.name, problem: robot.problem });
  }
  const [first] = unresolved;
  if (robots.length === 0 && first) return { ok: false, problem: first.problem };
  return {
    ok: true,
    value: {
      name: group.name,
      robots,
      pool: group.robots !== undefined,
      unresolved,
      rateLimitPerMinute: group.rateLimitPerMinute,
    },
  };
}

function resolveRobot(
  namespace: string,
  robot: Pick<PoolRobot, 'name' | 'webhook' | 'signature' | 'keywords'> & { field: string },
  reader: ReferenceReader,
): Resolution<ResolvedRobot> {
  const webhook = readSecretKey(namespace, robot.webhook, `${robot.field}.webhook`, reader);
  if (!webhook.ok) return webhook;
  const resolved: ResolvedRobot = {
    name: robot.name,
    webhook: webhook.value.trim(),
    keywords: robot.keywords ?? [],
  };
  if (robot.signature) {
    const secret = readSecretKey(namespace, robot.signature, `${robot.field}.signature`, reader);
    if (!secret.ok) return secret;
    resolved.secret = secret.value.trim();
  }
  return { ok: true, value: resolved };
}

export function resolveMemberApp(
  namespace: string,
  member: MemberTarget,
  reader: ReferenceReader,
): Resolution<ResolvedMemberApp> {
  const clientSecret = readSecretKey(namespace, member.clientSecret, 'spec.member.clientSecret', reader);
  if (!clientSecret.ok) return clientSecret;
  const members: MemberEntry[] = (member.members ?? []).map(({ userId, mobile, name }) => ({
    userId,
    mobile,
    name,
  }));
  if (member.membersFrom) {
    const text = readConfigMapKey(namespace, member.membersFrom, 'spec.member.membersFrom', reader);
    if (!text.ok) return text;
    const imported = parseMembersCsv(text.value);
    if (!imported.ok) {
      return problem(
        DingTalkConditionReason.InvalidSpec,
        'spec.member.membersFrom',
        `ConfigMap "${member.membersFrom.name}" key "${member.membersFrom.key}": ${imported.error}`,
      );
    }
    members.push(...imported.members);
  }
  return {
    ok: true,
    value: {
      clientId: member.clientId,
      clientSecret: clientSecret.value.trim(),
      robotCode: member.robotCode,
      ...(member.cardTemplateId ? { cardTemplateId: member.cardTemplateId } : {}),
      members,
    },
  };
}

interface ReferenceCache<T> {
  get(namespace: string, name: string): Readonly<T> | undefined;
  denied?(namespace: string, name: string): string | undefined;
}

/** A ReferenceReader over the operator's informer caches. */
export function cacheReader(caches: {
  secrets: ReferenceCache<V1Secret>;
  configMaps: ReferenceCache<V1ConfigMap>;
}): ReferenceReader {
  return {
    secret: (namespace, name) => caches.secrets.get(namespace, name),
    configMap: (namespace, name) => caches.configMaps.get(namespace, name),
    denied: (kind, namespace, name) =>
      (kind === 'Secret' ? caches.secrets : caches.configMaps).denied?.(namespace, name),
  };
}

function accessDenied(
  kind: 'Secret' | 'ConfigMap',
  namespace: string,
  name: string,
  field: string,
  reader: ReferenceReader,
): { ok: false; problem: ReferenceProblem } | undefined {
  const grant = reader.denied?.(kind, namespace, name);
  if (grant === undefined) return undefined;
  return problem(
    DingTalkConditionReason.SecretAccessDenied,
    field,
    `the operator may not read ${kind} "${name}" (${field}) in namespace ${namespace}: ${grant}`,
  );
}

function readSecretKey(
  namespace: string,
  ref: SecretKeyRef,
  field: string,
  reader: ReferenceReader,
): Resolution<string> {
  const secret = reader.secret(namespace, ref.name);
  if (!secret) {
    const denied = accessDenied('Secret', namespace, ref.name, field, reader);
    if (denied) return denied;
    return problem(
      DingTalkConditionReason.SecretNotFound,
      field,
      `Secret "${ref.name}" not found (${field})`,
    );
  }
  const encoded = secret.data?.[ref.key];
  const value =
    encoded !== undefined ? Buffer.from(encoded, 'base64').toString('utf8') : secret.stringData?.[ref.key];
  if (value === undefined || value.trim() === '') {
    return problem(
      DingTalkConditionReason.SecretKeyNotFound,
      field,
      `Secret "${ref.name}" has no key "${ref.key}", or it is empty (${field})`,
    );
  }
  return { ok: true, value };
}

function readConfigMapKey(
  namespace: string,
  ref: ConfigMapKeyRef,
  field: string,
  reader: ReferenceReader,
): Resolution<string> {
  const configMap = reader.configMap(namespace, ref.name);
  if (!configMap) {
    const denied = accessDenied('ConfigMap', namespace, ref.name, field, reader);
    if (denied) return denied;
    return problem(
      DingTalkConditionReason.ConfigMapNotFound,
      field,
      `ConfigMap "${ref.name}" not found (${field})`,
    );
  }
  const value = configMap.data?.[ref.key];
  if (value === undefined) {
    return problem(
      DingTalkConditionReason.ConfigMapKeyNotFound,
      field,
      `ConfigMap "${ref.name}" has no key "${ref.key}" (${field})`,
    );
  }
  return { ok: true, value };
}

function problem(
  reason: ReferenceProblem['reason'],
  field: string,
  message: string,
): { ok: false; problem: ReferenceProblem } {
  return { ok: false, problem: { reason, field, message } };
}
