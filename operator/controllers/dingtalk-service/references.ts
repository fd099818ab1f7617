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

function names(refs: (NameRef | undefined)[]): Set<string> {
  return new Set(refs.map((ref) => ref?.name).filter((name): name is string => typeof name === 'string'));
}

export function referencedSecrets(obj: { spec?: unknown }): Set<string> {
  const spec = specOf(obj);
  const groups = Array.isArray(spec.groups) ? spec.groups : [];
  const robots = groups.flatMap((group) => (Array.isArray(group?.robots) ? group.robots : []));
  return names([
    ...[...groups, ...robots].flatMap((robot) => [robot?.webhook, robot?.signature]),
    spec.member?.clientSecret,
  ]);
}

export function referencedConfigMaps(obj: { spec?: unknown }): Set<string> {
  return names([specOf(obj).member?.membersFrom]);
}
