import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { loadKubeEndpoint } from '../../operator/runtime/kube-endpoint.ts';
import { KubeHttp } from '../../operator/runtime/kube-http.ts';

const run = promisify(execFile);

/** Set by a test file that runs on a control plane of its own (useOwnControlPlane). */
let ownKubeconfig: string | undefined;

/**
 * The admin kubeconfig file of this test file's control plane: the run's shared one, or the file's own
 * once useOwnControlPlane has started it. Every helper here reads it, so they follow the file.
 */
export function testKubeconfigPath(): string {
  return ownKubeconfig ?? inject('kubeconfig');
}

/** Points this file's helpers at another control plane's kubeconfig (undefined: the shared one again). */
export function useKubeconfig(path: string | undefined): void {
  ownKubeconfig = path;
}

/** A KubeConfig for the control plane of this test file (admin credentials). */
export function testKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(testKubeconfigPath());
  return kc;
}

/** The operator's own API client, as the manager builds it, for a control plane (the file's by default). */
export function testKubeHttp(kubeconfig: string = testKubeconfigPath()): KubeHttp {
  return new KubeHttp(loadKubeEndpoint({ kubeconfig }), { connections: null });
}

/** Runs the pinned kubectl against the test control plane; resolves with stdout, rejects with stderr. */
export async function kubectl(args: string[], input?: string): Promise<string> {
  const child = run(inject('kubectl'), ['--kubeconfig', testKubeconfigPath(), ...args], {
    maxBuffer: 64 << 20,
  });
  if (input !== undefined) {
    child.child.stdin?.end(input);
  }
  const { stdout } = await child;
  return stdout;
}

/**
 * Creates a namespace of its own for one test (or file) and deletes it afterwards.
 * Call in beforeAll/beforeEach; await the returned cleanup in afterAll/afterEach.
 */
export async function createTestNamespace(
  prefix = 'test',
): Promise<{ name: string; cleanup: () => Promise<void> }> {
  const core = testKubeConfig().makeApiClient(CoreV1Api);
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  await core.createNamespace({
    body: { metadata: { name, labels: { 'dingtalk-operator.test/run': 'true' } } },
  });
  return {
    name,
    cleanup: async () => {
      await core.deleteNamespace({ name }).catch(() => undefined);
    },
  };
}

/**
 * Polls until check() returns a value other than undefined, or throws after timeoutMs with the last error.
 * The default minute is a margin for a loaded 2-core machine, not an expectation.
 */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 60_000, intervalMs = 100 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`condition not met within ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
