/**
 * The REST path of a collection: core kinds under /api, others under /apis/<group>. Kept apart from
 * kube-fetch.ts so that the receiver can build paths without loading client-node.
 */
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
