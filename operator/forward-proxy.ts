import type { ConnectionOptions } from 'node:tls';
import { Agent, type Dispatcher, EnvHttpProxyAgent, ProxyAgent } from 'undici';

/**
 * The undici dispatcher of a client that may have to reach its server through a forward proxy, as
 * enterprise clusters often reach the internet, and sometimes their own API server, only that way:
 * - through `proxyUrl` when given (a kubeconfig cluster's proxy-url), for every request, as client-go;
 * - otherwise through the proxy the environment names, as curl and Go read it: https_proxy or
 *   HTTPS_PROXY for https URLs, http_proxy or HTTP_PROXY for http ones (and for https ones when no
 *   https proxy is named), except for the hosts no_proxy or NO_PROXY lists (names, `.domain` suffixes,
 *   IP addresses, `host:port`, `*`);
 * - otherwise straight.
 * https is tunnelled with CONNECT, TLS still end to end with the target's `connect` settings; http is
 * forwarded to the proxy as absolute-form requests. Credentials in a proxy URL (`user:password@`) are
 * sent as Proxy-Authorization.
 */

export type Env = Readonly<Record<string, string | undefined>>;

export interface ProxiedAgentOptions extends Omit<Agent.Options, 'connect'> {
  /** TLS and socket settings of connections to the target, proxied or not. */
  connect?: ConnectionOptions & { timeout?: number; keepAlive?: boolean; keepAliveInitialDelay?: number };
  proxyUrl?: string | undefined;
  env?: Env;
}

export function proxiedAgent({ proxyUrl, env = process.env, ...options }: ProxiedAgentOptions): Dispatcher {
  const requestTls = options.connect;
  if (proxyUrl) return new ProxyAgent({ ...options, uri: proxyUrl, requestTls });
  const httpsProxy = env.https_proxy || env.HTTPS_PROXY;
  const httpProxy = env.http_proxy || env.HTTP_PROXY;
  if (!httpsProxy && !httpProxy) return new Agent(options);
  // Every setting passed, none left for undici to read from process.env itself.
  return new EnvHttpProxyAgent({
    ...options,
    httpProxy: httpProxy ?? '',
    httpsProxy: httpsProxy ?? '',
    noProxy: env.no_proxy || env.NO_PROXY || '',
    requestTls,
  });
}
