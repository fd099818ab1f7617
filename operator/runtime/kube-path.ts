/** The REST path of a collection: core kinds under /api, others under /apis/<group>. */
export function collectionPath(resource: {
  group?: string;
  version: string;
  plural: string;
  namespace?: string;
}): string {
  const base = resource.group ? `/apis/${resource.group}/${resource.version}` : `/api/${resource.version}`;
  const scope = resource.namespace ? `/namespaces/${encodeURIComponent(resource.namespace)}` : '';
  return `${base}${scope}/${resource.plural}`;
}

/** The REST path of one object; a subresource (`/status`) is appended by the caller. */
export function objectPath(resource: Parameters<typeof collectionPath>[0] & { name: string }): string {
  return `${collectionPath(resource)}/${encodeURIComponent(resource.name)}`;
}
