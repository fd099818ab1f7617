import type { KubeConfig } from '@kubernetes/client-node';
import type { Dispatcher } from 'undici';

/**
 * client-node builds a new undici Agent for every request, so each API call opens (and TLS-handshakes)
 * a connection of its own; under an alarm storm that costs more CPU than the calls themselves. This
 * keeps the first Agent and hands it to every later request, so connections are pooled and reused.
 * Credentials stay per request: tokens travel in headers, client certificates are fixed per kubeconfig.
 */
export function shareConnections(kubeConfig: KubeConfig): KubeConfig {
  const apply = kubeConfig.applySecurityAuthentication.bind(kubeConfig);
  let shared: Dispatcher | undefined;
  kubeConfig.applySecurityAuthentication = async (context) => {
    await apply(context);
    const created = context.getDispatcher();
    if (!created) return;
    if (!shared) {
      shared = created;
      return;
    }
    if (created !== shared) void created.close();
    context.setDispatcher(shared);
  };
  return kubeConfig;
}
