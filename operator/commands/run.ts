import { KubeConfig, VersionApi } from '@kubernetes/client-node';

/** Connects to the cluster, reports readiness and waits for SIGTERM/SIGINT. */
export async function main(_args: string[]): Promise<void> {
  const kc = new KubeConfig();
  if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else kc.loadFromDefault();
  const version = await kc.makeApiClient(VersionApi).getCode();
  console.log(
    JSON.stringify({
      level: 'info',
      msg: 'connected',
      server: kc.getCurrentCluster()?.server,
      version: version.gitVersion,
    }),
  );
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  console.log(JSON.stringify({ level: 'info', msg: 'shutting down' }));
}
