import { HttpMethod, type KubeConfig, RequestContext } from '@kubernetes/client-node';
import { fetch, type Response } from 'undici';
import { KubeApiError } from '../errors.ts';

/**
 * A GET against the API server with the kubeconfig's credentials and TLS settings, through the same
 * undici dispatcher client-node uses (so connections are shared). Used for list and watch, where the
 * generated clients are kind-specific and client-node's Watch cannot be aborted before the response
 * headers arrive. Non-2xx answers throw KubeApiError with the Status body parsed.
 */
export async function kubeGet(
  kubeConfig: KubeConfig,
  path: string,
  query: Record<string, string | number | boolean | undefined>,
  signal: AbortSignal,
  accept = 'application/json',
): Promise<Response> {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/$/, '') + path);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined) url.searchParams.set(name, String(value));
  }
  const context = new RequestContext(url.toString(), HttpMethod.GET);
  await kubeConfig.applySecurityAuthentication(context);
  const response = await fetch(url, {
    method: 'GET',
    headers: { ...context.getHeaders(), accept },
    dispatcher: context.getDispatcher(),
    signal,
  });
  if (!response.ok) {
    const body = await response.text().catch(() => '');
    throw KubeApiError.fromResponse(response.status, body);
  }
  return response;
}

export { collectionPath } from './kube-path.ts';
