import { isConflict, isNotFound } from '../errors.ts';
import type { KubeHttp } from './kube-http.ts';
import { objectPath } from './kube-path.ts';

/**
 * Writes the status subresource of a custom resource, and only when it changed.
 *
 * Merge patch rather than server-side apply: it works whatever list-type the CRD declares for
 * conditions, needs no apiVersion/kind/field manager in the body, and this operator is the only
 * writer of these statuses (the leader). The patch is the RFC 7386 difference between the status as
 * read and the status computed, so removed fields are sent as null; arrays (conditions) are sent whole.
 *
 * With `guardIdentity`, a write lands on the object it was computed for or nowhere: names can be reused
 * (the receiver's are deterministic), and a write in flight must not land on a re-created object. The
 * status subresource takes metadata from the stored object, so metadata.uid in a patch guards nothing
 * there (kube-apiserver 1.34 applies it to another uid silently); metadata.resourceVersion does, and
 * it also keeps a patch that replaces a list (deliveries, conditions) from overwriting a newer one.
 */

export interface CustomResource {
  group: string;
  version: string;
  plural: string;
}

export interface StatusObject {
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
  status?: unknown;
}

/**
 * `patched`: written; `unchanged`: nothing to write; `gone`: the object no longer exists (guarded: or
 * another object of the same name took its place).
 */
export type StatusWriteResult = 'patched' | 'unchanged' | 'gone';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Conflicts of one guarded write with writes to the same object (its spec, say) before it gives up. */
const CONFLICT_RETRIES = 3;

export class StatusWriter {
  readonly #kube: KubeHttp;
  readonly #resource: CustomResource;
  readonly #guardIdentity: boolean;

  constructor(kube: KubeHttp, resource: CustomResource, { guardIdentity = false } = {}) {
    this.#kube = kube;
    this.#resource = resource;
    this.#guardIdentity = guardIdentity;
  }

  /**
   * Patches `obj.status` if it differs from `before` (the status as read from the cache). Guarded, the
   * patch is conditional on `obj.metadata.resourceVersion`, which is advanced to the version written.
   */
  async patchIfChanged(obj: StatusObject, before: unknown): Promise<StatusWriteResult> {
    const patch = mergePatch(before ?? {}, obj.status ?? {});
    if (patch === undefined) return 'unchanged';
    return this.patch(obj.metadata ?? {}, patch);
  }

  /** Sends a merge patch of the status the caller computed; guarded as patchIfChanged is. */
  async patch(metadata: NonNullable<StatusObject['metadata']>, patch: Json): Promise<StatusWriteResult> {
    const { name, namespace } = metadata;
    if (!name || !namespace) throw new Error('status write needs metadata.name and metadata.namespace');
    const objectAt = objectPath({ ...this.#resource, namespace, name });
    const path = `${objectAt}/status`;
    try {
      if (this.#guardIdentity) return await this.#guarded(objectAt, metadata, patch);
      await this.#kube.mergePatch(path, { status: patch });
      return 'patched';
    } catch (err) {
      if (isNotFound(err)) return 'gone';
      throw err;
    }
  }

  /**
   * A 409 means the object changed since the version known: the same object (same uid) is patched again
   * on its current version, as this operator is the one writer of the status; another is left alone.
   */
  async #guarded(
    objectAt: string,
    metadata: NonNullable<StatusObject['metadata']>,
    patch: Json,
  ): Promise<StatusWriteResult> {
    if (!metadata.uid || !metadata.resourceVersion)
      throw new Error('a guarded status write needs metadata.uid and metadata.resourceVersion');
    for (let conflicts = 0; ; conflicts++) {
      try {
        const written = await this.#kube.mergePatch<StatusObject>(`${objectAt}/status`, {
          metadata: { resourceVersion: metadata.resourceVersion },
          status: patch,
        });
        metadata.resourceVersion = written.metadata?.resourceVersion;
        return 'patched';
      } catch (err) {
        if (!isConflict(err) || conflicts >= CONFLICT_RETRIES) throw err;
      }
      // The object, not its status subresource: `get` on the kind is what the operator's role grants.
      const current = await this.#kube.get<StatusObject>(objectAt);
      if (current.metadata?.uid !== metadata.uid) return 'gone';
      metadata.resourceVersion = current.metadata?.resourceVersion;
    }
  }
}

/** A copy of `value` as JSON has it: fields set to undefined are dropped. */
export function toJson(value: unknown): Json {
  return JSON.parse(JSON.stringify(value)) as Json;
}

/**
 * The RFC 7386 merge patch turning `before` into `after`, or undefined when they are equal. Both are
 * taken as JSON has them (a field set to undefined is absent), without copying either first: a storm's
 * status writes compute one patch each.
 */
export function mergePatch(before: unknown, after: unknown): Json | undefined {
  if (!isPlainObject(before) || !isPlainObject(after))
    return sameJson(before, after) ? undefined : toJson(after);
  const patch: { [key: string]: Json } = {};
  let changed = false;
  for (const key of Object.keys(before)) {
    if (before[key] !== undefined && field(after, key) === undefined) {
      patch[key] = null;
      changed = true;
    }
  }
  for (const key of Object.keys(after)) {
    const value = after[key];
    if (value === undefined) continue;
    const previous = field(before, key);
    const child = previous === undefined ? toJson(value) : mergePatch(previous, value);
    if (child !== undefined) {
      patch[key] = child;
      changed = true;
    }
  }
  return changed ? patch : undefined;
}

/**
 * `target` with the RFC 7386 `patch` applied, sharing every part of `target` the patch leaves as it was;
 * neither is modified. A patch sent, applied to what was written before it, is what is written now,
 * without a copy of the whole status per write.
 */
export function applyMergePatch(target: unknown, patch: Json): Json {
  if (!isPlainObject(patch)) return patch;
  const result: { [key: string]: Json } = isPlainObject(target)
    ? { ...(target as { [key: string]: Json }) }
    : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

/** Equal as JSON: whatever the key order, a field set to undefined as one that is absent. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((item, i) => sameJson(item ?? null, b[i] ?? null))
    );
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    for (const key of Object.keys(a)) {
      if (a[key] !== undefined && !sameJson(a[key], field(b, key))) return false;
    }
    return Object.keys(b).every((key) => b[key] === undefined || field(a, key) !== undefined);
  }
  // Dates and other objects with a JSON form of their own.
  if (typeof a === 'object' || typeof b === 'object') return JSON.stringify(a) === JSON.stringify(b);
  return false;
}

function field(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
