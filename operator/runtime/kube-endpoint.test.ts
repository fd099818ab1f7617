import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type HttpsOptions, loadKubeEndpoint } from './kube-endpoint.ts';

const dir = () => mkdtempSync(path.join(tmpdir(), 'kube-endpoint-'));
const b64 = (text: string) => Buffer.from(text).toString('base64');

function kubeconfig(folder: string, cluster: object, user: object): string {
  const file = path.join(folder, 'config');
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'main',
      contexts: [
        { name: 'other', context: { cluster: 'other', user: 'other' } },
        { name: 'main', context: { cluster: 'c', user: 'u' } },
      ],
      clusters: [
        { name: 'other', cluster: { server: 'https://wrong:1' } },
        { name: 'c', cluster },
      ],
      users: [{ name: 'u', user }],
    }),
  );
  return file;
}

async function applied(endpoint: { applyToHTTPSOptions(o: HttpsOptions): Promise<void> }) {
  const options: HttpsOptions = {};
  await endpoint.applyToHTTPSOptions(options);
  return options;
}

describe('loadKubeEndpoint', () => {
  it('takes the current context of a kubeconfig: server, CA, server name and token', async () => {
    const file = kubeconfig(
      dir(),
      {
        server: 'https://api.example:6443',
        'certificate-authority-data': b64('ca'),
        'tls-server-name': 'kubernetes',
      },
      { token: 'abc' },
    );
    const endpoint = loadKubeEndpoint({ kubeconfig: file });
    expect(endpoint.getCurrentCluster()?.server).toBe('https://api.example:6443');
    const options = await applied(endpoint);
    expect(options.ca?.toString()).toBe('ca');
    expect(options.servername).toBe('kubernetes');
    expect(options.rejectUnauthorized).toBeUndefined();
    expect(options.headers).toEqual({ Authorization: 'Bearer abc' });
  });

  it('reads client certificate files relative to the kubeconfig, and honours insecure-skip-tls-verify', async () => {
    const folder = dir();
    writeFileSync(path.join(folder, 'client.crt'), 'cert');
    writeFileSync(path.join(folder, 'client.key'), 'key');
    const file = kubeconfig(
      folder,
      { server: 'https://127.0.0.1:6443', 'insecure-skip-tls-verify': true },
      { 'client-certificate': 'client.crt', 'client-key': 'client.key' },
    );
    const options = await applied(loadKubeEndpoint({ kubeconfig: file }));
    expect(options.cert?.toString()).toBe('cert');
    expect(options.key?.toString()).toBe('key');
    expect(options.rejectUnauthorized).toBe(false);
    expect(options.headers).toBeUndefined();
  });

  it('in a pod, uses the ServiceAccount and re-reads its token on every call', async () => {
    const folder = dir();
    writeFileSync(path.join(folder, 'ca.crt'), 'cluster-ca');
    writeFileSync(path.join(folder, 'token'), 'first\n');
    const endpoint = loadKubeEndpoint(
      {},
      { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' },
      folder,
    );
    expect(endpoint.getCurrentCluster()?.server).toBe('https://[fd00::1]:443');
    expect((await applied(endpoint)).headers).toEqual({ Authorization: 'Bearer first' });
    writeFileSync(path.join(folder, 'token'), 'rotated\n');
    const options = await applied(endpoint);
    expect(options.headers).toEqual({ Authorization: 'Bearer rotated' });
    expect(options.ca?.toString()).toBe('cluster-ca');
  });

  // Loads client-node, which takes seconds on a busy machine.
  it('hands a kubeconfig with an exec plugin to client-node', { timeout: 60_000 }, () => {
    const file = kubeconfig(
      dir(),
      { server: 'https://api.example:6443' },
      { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'get-token' } },
    );
    const endpoint = loadKubeEndpoint({ kubeconfig: file });
    expect(endpoint.constructor.name).toBe('KubeConfig');
    expect(endpoint.getCurrentCluster()?.server).toBe('https://api.example:6443');
  });

  it('names the file when it has no usable current context', () => {
    const folder = dir();
    const file = path.join(folder, 'config');
    writeFileSync(file, 'apiVersion: v1\nkind: Config\n');
    expect(() => loadKubeEndpoint({ kubeconfig: file })).toThrow(file);
  });
});

// Starts a Node process that loads the whole command: slow on a busy machine.
describe('the receiver command', { timeout: 60_000 }, () => {
  it('does not load client-node', () => {
    const command = new URL('../commands/receiver.ts', import.meta.url).href;
    const script = `
      import { registerHooks } from 'node:module';
      const loaded = [];
      registerHooks({ resolve(specifier, context, next) {
        if (specifier.startsWith('@kubernetes/client-node')) loaded.push(context.parentURL);
        return next(specifier, context);
      } });
      await import(${JSON.stringify(command)});
      console.log(JSON.stringify(loaded));
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual([]);
  });
});
