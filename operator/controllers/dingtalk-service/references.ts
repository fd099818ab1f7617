/**
 * The Secrets and ConfigMaps a DingTalkService refers to, read from the object as cached, before it is
 * validated: a Secret event must reach every service that names it, including one whose spec is
 * otherwise invalid, and parsing a thousand specs for each Secret event would be wasted work.
 */

interface NameRef {
  name?: unknown;
}

interface LooseSpec {
  groups?: {
    webhook?: NameRef;
    signature?: NameRef;
    robots?: { webhook?: NameRef; signature?: NameRef }[];
  }[];
  member?: { clientSecret?: NameRef; membersFrom?: NameRef };
}

function specOf(obj: { spec?: unknown }): LooseSpec {
  return typeof obj.spec === 'object' && obj.spec !== null ? (obj.spec as LooseSpec) : {};
}

/** Shared by every spec that names none (most name no ConfigMap). */
const NONE: ReadonlySet<string> = new Set();

function names(refs: (NameRef | undefined)[]): ReadonlySet<string> {
  const found = refs.map((ref) => ref?.name).filter((name): name is string => typeof name === 'string');
  return found.length > 0 ? new Set(found) : NONE;
}

/**
 * Kept per spec object, which the informer keeps while the generation stays: each Secret or ConfigMap
 * event looks through every service of its namespace, and each status write hands the reference store a
 * service again. Shared: callers only read the sets.
 */
const secretsBySpec = new WeakMap<object, ReadonlySet<string>>();
const configMapsBySpec = new WeakMap<object, ReadonlySet<string>>();

function keptPerSpec(
  kept: WeakMap<object, ReadonlySet<string>>,
  obj: { spec?: unknown },
  find: (spec: LooseSpec) => ReadonlySet<string>,
): ReadonlySet<string> {
  const spec = specOf(obj);
  let found = kept.get(spec);
  if (!found) {
    found = find(spec);
    kept.set(spec, found);
  }
  return found;
}

export function referencedSecrets(obj: { spec?: unknown }): ReadonlySet<string> {
  return keptPerSpec(secretsBySpec, obj, (spec) => {
    const groups = Array.isArray(spec.groups) ? spec.groups : [];
    const robots = groups.flatMap((group) => (Array.isArray(group?.robots) ? group.robots : []));
    return names([
      ...[...groups, ...robots].flatMap((robot) => [robot?.webhook, robot?.signature]),
      spec.member?.clientSecret,
    ]);
  });
}

export function referencedConfigMaps(obj: { spec?: unknown }): ReadonlySet<string> {
  return keptPerSpec(configMapsBySpec, obj, (spec) => names([spec.member?.membersFrom]));
}
