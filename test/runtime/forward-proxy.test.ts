import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadKubeEndpoint } from '../../operator/runtime/kube-endpoint.ts';
import { KubeHttp } from '../../operator/runtime/kube-http.ts';
import { type ForwardProxy, startForwardProxy } from '../support/forward-proxy.ts';

/**
 * The Kubernetes client reaches the API server through a forward proxy on this machine: the one a
 * kubeconfig cluster names (proxy-url) or the one HTTPS_PROXY names, unless NO_PROXY lists the server.
 * The proxy writes down each CONNECT it tunnels, which tells the calls went through it.
 */

describe('The Kubernetes client through a forward proxy', () => {
  const kubeconfig = inject('kubeconfig');
  const apiServer = new URL(loadKubeEndpoint({ kubeconfig }).getCurrentCluster()?.server ?? '').host;
  let proxy: ForwardProxy;
  beforeAll(async () => {
    proxy = await startForwardProxy();
  });
  afterAll(async () => {
    await proxy.close();
  });

  async function listNamespaces(kube: KubeHttp) {
    try {
      return await kube.get<{ items: unknown[] }>('/api/v1/namespaces');
    } finally {
      await kube.close();
    }
  }

  it('goes through the proxy-url of the kubeconfig cluster', async () => {
    proxy.targets.length = 0;
    const doc = parse(readFileSync(kubeconfig, 'utf8'));
    for (const { cluster } of doc.clusters) cluster['proxy-url'] = proxy.url;
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'proxied-')), 'kubeconfig');
    writeFileSync(file, stringify(doc));
    const namespaces = await listNamespaces(
      new KubeHttp(loadKubeEndpoint({ kubeconfig: file }), { env: {} }),
    );
    expect(namespaces.items.length).toBeGreaterThan(0);
    expect(proxy.targets).toEqual([apiServer]);
  });

  it('goes through the proxy HTTPS_PROXY names', async () => {
    proxy.targets.length = 0;
    const kube = new KubeHttp(loadKubeEndpoint({ kubeconfig }), { env: { HTTPS_PROXY: proxy.url } });
    expect((await listNamespaces(kube)).items.length).toBeGreaterThan(0);
    expect(proxy.targets).toEqual([apiServer]);
  });

  it('goes straight to an API server NO_PROXY lists', async () => {
    proxy.targets.length = 0;
    const kube = new KubeHttp(loadKubeEndpoint({ kubeconfig }), {
      env: { HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1' },
    });
    expect((await listNamespaces(kube)).items.length).toBeGreaterThan(0);
    expect(proxy.targets).toEqual([]);
  });
});
