import { readFileSync } from 'node:fs';
import { AuthorizationV1Api } from '@kubernetes/client-node';
import { testKubeConfig } from '../support/kube.ts';
import type { ResourceRequest } from './restricted-identity.ts';

/**
 * What the chart's identities asked the API server for, read from its audit log (the local control
 * plane writes one for every request made as a ServiceAccount: test/cluster/audit-policy.yaml), and the
 * API server's own answer to "may this user make this request?" (a SubjectAccessReview).
 */

/** One request as the audit log records it: RBAC's attributes, the authorizer's decision and the status. */
export interface AuditedRequest extends ResourceRequest {
  groups: string[];
  /** The `authorization.k8s.io/decision` annotation: allow or forbid. */
  decision: string | undefined;
  status: number | undefined;
  /** Set for a request that names no resource (discovery, /version, /healthz). */
  nonResourcePath?: string;
}

interface AuditEvent {
  auditID: string;
  verb: string;
  requestURI: string;
  user: { username: string; groups?: string[] };
  objectRef?: {
    resource?: string;
    subresource?: string;
    namespace?: string;
    name?: string;
    apiGroup?: string;
  };
  responseStatus?: { code?: number };
  annotations?: Record<string, string>;
}

/**
 * The distinct requests `users` made, as far as the API server has written them to `file`: a long
 * request (a watch) is written when it starts and again when it ends; it counts once.
 */
export function auditedRequests(file: string, users: ReadonlySet<string>): AuditedRequest[] {
  const byId = new Map<string, AuditEvent>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const event = JSON.parse(line) as AuditEvent;
    if (users.has(event.user.username)) byId.set(event.auditID, event);
  }
  // One entry per set of attributes RBAC decides on; a refused one stands for all alike.
  const distinct = new Map<string, AuditedRequest>();
  for (const event of byId.values()) {
    const request = toRequest(event);
    const { groups, decision, status, ...attributes } = request;
    const key = JSON.stringify(attributes);
    if (!distinct.has(key) || refused(request)) distinct.set(key, request);
  }
  return [...distinct.values()];
}

/** Whether the API server refused the request: the authorizer said no, or the answer was 403. */
export function refused(request: AuditedRequest): boolean {
  return request.decision !== 'allow' || request.status === 403;
}

function toRequest(event: AuditEvent): AuditedRequest {
  const common = {
    user: event.user.username,
    groups: event.user.groups ?? [],
    verb: event.verb,
    decision: event.annotations?.['authorization.k8s.io/decision'],
    status: event.responseStatus?.code,
  };
  const ref = event.objectRef;
  if (!ref?.resource) {
    return { ...common, apiGroup: '', resource: '', nonResourcePath: event.requestURI.split('?')[0] };
  }
  return {
    ...common,
    apiGroup: ref.apiGroup ?? '',
    resource: ref.resource,
    subresource: ref.subresource,
    namespace: ref.namespace,
    // The authorizer decides a create without a name (the object does not exist yet); the audit log
    // adds the name from the request's body.
    name: event.verb === 'create' && !ref.subresource ? undefined : ref.name,
  };
}

/** Whether the API server's authorizer allows `request` to `user` (with the groups the request had). */
export async function mayRequest(request: AuditedRequest, user = request.user): Promise<boolean> {
  const review = await testKubeConfig()
    .makeApiClient(AuthorizationV1Api)
    .createSubjectAccessReview({
      body: {
        spec: {
          user,
          groups: request.groups,
          ...(request.nonResourcePath
            ? { nonResourceAttributes: { path: request.nonResourcePath, verb: request.verb } }
            : {
                resourceAttributes: {
                  verb: request.verb,
                  group: request.apiGroup,
                  resource: request.resource,
                  subresource: request.subresource,
                  namespace: request.namespace,
                  name: request.name,
                },
              }),
        },
      },
    });
  return review.status?.allowed === true;
}

/** A request in a line of a failure message. */
export function describeRequest(request: AuditedRequest): string {
  if (request.nonResourcePath) return `${request.user} ${request.verb} ${request.nonResourcePath}`;
  const resource = request.subresource ? `${request.resource}/${request.subresource}` : request.resource;
  return `${request.user} ${request.verb} ${request.apiGroup || 'core'} ${resource}${request.namespace ? ` in ${request.namespace}` : ''}${request.name ? ` named ${request.name}` : ''}${request.decision ? ` (${request.decision}, ${request.status})` : ''}`;
}
