import { isDeepStrictEqual } from 'node:util';
import { isNotFound } from '../errors.ts';
import type { KubeHttp } from './kube-http.ts';
import { objectPath } from './kube-path.ts';

/**
 * Writes the status subresource of a custom resource, and only when it changed.
 *
 * Merge patch rather than server-side apply: it works whatever list-type the CRD declares for
 * conditions, needs no apiVersion/kind/field manager in the body, and this operator is the only
 * writer of these statuses (the leader). The patch is the RFC 7386 difference between the status as
 * read and the status computed, so removed fields are sent as null; arrays (conditions) are sent whole.
 */

export interface CustomResource {
  group: string;
  version: string;
  plural: string;
}

export interface StatusObject {
  metadata?: { name?: string; namespace?: string };
  status?: unknown;
}

/** `patched`: written; `unchanged`: nothing to write; `gone`: the object no longer exists. */
export type StatusWriteResult = 'patched' | 'unchanged' | 'gone';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export class StatusWriter {
  readonly #kube: KubeHttp;
  readonly #resource: CustomResource;

  constructor(kube: KubeHttp, resource: CustomResource) {
    this.#kube = kube;
    this.#resource = resource;
  }

  /** Patches `obj.status` if it differs from `before` (the status as read from the cache). */
  async patchIfChanged(obj: StatusObject, before: unknown): Promise<StatusWriteResult> {
    const patch = mergePatch(toJson(before ?? {}), toJson(obj.status ?? {}));
    if (patch === undefined) return 'unchanged';
    const { name, namespace } = obj.metadata ?? {};
    if (!name || !namespace) throw new Error('status write needs metadata.name and metadata.namespace');
    try {
      await this.#kube.mergePatch(`${objectPath({ ...this.#resource, namespace, name })}/status`, {
        status: patch,
      });
      return 'patched';
    } catch (err) {
      if (isNotFound(err)) return 'gone';
      throw err;
    }
  }
}

/** JSON round trip: drops undefined fields so `{a: undefined}` equals `{}`. */
function toJson(value: unknown): Json {
  return JSON.parse(JSON.stringify(value)) as Json;
}

/** The RFC 7386 merge patch turning `before` into `after`, or undefined when they are equal. */
export function mergePatch(before: Json, after: Json): Json | undefined {
  if (isDeepStrictEqual(before, after)) return undefined;
  if (!isPlainObject(before) || !isPlainObject(after)) return after;
  const patch: { [key: string]: Json } = {};
  for (const key of Object.keys(before)) {
    if (!(key in after)) patch[key] = null;
  }
  for (const [key, value] of Object.entries(after)) {
    const previous = before[key];
    const child = previous === undefined ? value : mergePatch(previous, value);
    if (child !== undefined) patch[key] = child;
  }
  return patch;
}

function isPlainObject(value: Json): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
