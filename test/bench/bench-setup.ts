import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';

/**
 * What every benchmark starts from: the results file (argv[2]) and the cluster ($KUBECONFIG) that
 * test/bench/run.sh hands it, and a namespace name of its own.
 */
export function benchSetup(name: string): {
  resultsPath: string;
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  namespace: string;
} {
  const resultsPath = process.argv[2];
  const kubeconfigPath = process.env.KUBECONFIG;
  if (!resultsPath || !kubeconfigPath) {
    process.stderr.write(
      `usage: KUBECONFIG=<admin kubeconfig> node test/bench/${name}.bench.ts <results.md>\n`,
    );
    process.exit(2);
  }
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  return {
    resultsPath,
    kubeconfigPath,
    kubeConfig,
    namespace: `bench-${name}-${randomBytes(3).toString('hex')}`,
  };
}
