import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeUnavailableError } from '../../operator/errors.ts';
import { loadKubeEndpoint } from '../../operator/runtime/kube-endpoint.ts';
import { KubeHttp } from '../../operator/runtime/kube-http.ts';
import { type SilenceableProxy, silenceableProxy } from '../support/silenceable-proxy.ts';

/**
 * A call on the API server's HTTP/2 connection when that connection falls silent (a TCP proxy that stops
 * forwarding, closing nothing): its deadline ends it, and nothing else could, since the PINGs that would
 * drop the connection are a minute apart here. Calls answered slowly or cut off over HTTP/1.1 are
 * operator/runtime/kube-http-limits.test.ts.
 */
describe('A call through a connection that falls silent', () => {
  const endpoint = loadKubeEndpoint({ kubeconfig: inject('kubeconfig') });
  let proxy: SilenceableProxy;
  let kube: KubeHttp;

  beforeAll(async () => {
    proxy = await silenceableProxy(new URL(endpoint.getCurrentCluster()?.server ?? ''));
    kube = new KubeHttp(
      {
        getCurrentCluster: () => ({ server: proxy.url }),
        applyToHTTPSOptions: (options) => endpoint.applyToHTTPSOptions(options),
      },
      { timeoutMs: 2_000, pingIntervalMs: 60_000 },
    );
  });
  afterAll(async () => {
    // The proxy first: the silent connection would hold a graceful close.
    await proxy.close();
    await kube.close();
  });

  it('fails at its deadline', async () => {
    await expect(kube.get('/api/v1/namespaces/default')).resolves.toMatchObject({ kind: 'Namespace' });
    proxy.silence();
    const err = await kube.get('/api/v1/namespaces/default').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeUnavailableError);
    expect((err as Error).message).toContain('no answer within the 2000 ms deadline');
    expect(proxy.connections).toBe(1);
  });
});
