import type { V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import type { ConfigMapKeyRef, GroupTarget, MemberTarget, SecretKeyRef } from '../api/index.ts';
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
}

export interface ReferenceProblem {
  reason:
    | typeof DingTalkConditionReason.SecretNotFound
    | typeof DingTalkConditionReason.SecretKeyNotFound
    | typeof DingTalkConditionReason.ConfigMapNotFound
    | typeof DingTalkConditionReason.ConfigMapKeyNotFound
    | typeof DingTalkConditionReason.InvalidSpec;
  /** The spec field holding the reference, e.g. spec.groups[ops].webhook. */
  field: string;
  message: string;
}

export type Resolution<T> = { ok: true; value: T } | { ok: false; problem: ReferenceProblem };

export interface ResolvedGroup {
  name: string;
  /** The whole webhook URL or its bare access_token — a credential. */
  webhook: string;
  /** The 加签 secret — a credential. */
  secret?: string;
  keywords: string[];
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

export function resolveGroup(
  namespace: string,
  group: GroupTarget,
  reader: ReferenceReader,
): Resolution<ResolvedGroup> {
  const field = `spec.groups[${group.name}]`;
  const webhook = readSecretKey(namespace, group.webhook, `${field}.webhook`, reader);
  if (!webhook.ok) return webhook;
  const resolved: ResolvedGroup = {
    name: group.name,
    webhook: webhook.value.trim(),
    keywords: group.keywords ?? [],
    rateLimitPerMinute: group.rateLimitPerMinute,
  };
  if (group.signature) {
    const secret = readSecretKey(namespace, group.signature, `${field}.signature`, reader);
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

/** A ReferenceReader over the operator's informer caches. */
export function cacheReader(caches: {
  secrets: { get(namespace: string, name: string): Readonly<V1Secret> | undefined };
  configMaps: { get(namespace: string, name: string): Readonly<V1ConfigMap> | undefined };
}): ReferenceReader {
  return {
    secret: (namespace, name) => caches.secrets.get(namespace, name),
    configMap: (namespace, name) => caches.configMaps.get(namespace, name),
  };
}

function readSecretKey(
  namespace: string,
  ref: SecretKeyRef,
  field: string,
  reader: ReferenceReader,
): Resolution<string> {
  const secret = reader.secret(namespace, ref.name);
  if (!secret) {
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
