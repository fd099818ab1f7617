import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.ts';
import { type HttpsOptions, type KubeEndpoint, loadKubeEndpoint } from './kube-endpoint.ts';

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

  it('sends a kubeconfig user name and password as basic auth, and reads the cluster proxy-url', async () => {
    const file = kubeconfig(
      dir(),
      { server: 'https://api.example:6443', 'proxy-url': 'http://proxy.example:3128' },
      { username: 'admin', password: 'secret' },
    );
    const endpoint = loadKubeEndpoint({ kubeconfig: file });
    expect(endpoint.getCurrentCluster()?.proxyUrl).toBe('http://proxy.example:3128');
    expect((await applied(endpoint)).headers).toEqual({ Authorization: `Basic ${b64('admin:secret')}` });
  });

  describe('finds the kubeconfig as controller-runtime does', () => {
    const serviceAccount = () => {
      const folder = dir();
      writeFileSync(path.join(folder, 'ca.crt'), 'cluster-ca');
      writeFileSync(path.join(folder, 'token'), 'sa-token');
      return folder;
    };
    const inPod = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
    const server = (endpoint: KubeEndpoint) => endpoint.getCurrentCluster()?.server;

    it('--kubeconfig first, then $KUBECONFIG, both before the ServiceAccount', () => {
      const flag = kubeconfig(dir(), { server: 'https://flag:6443' }, { token: 't' });
      const variable = kubeconfig(dir(), { server: 'https://variable:6443' }, { token: 't' });
      const env = { ...inPod, KUBECONFIG: variable };
      expect(server(loadKubeEndpoint({ kubeconfig: flag }, env, serviceAccount()))).toBe('https://flag:6443');
      expect(server(loadKubeEndpoint({}, env, serviceAccount()))).toBe('https://variable:6443');
    });

    it('the ServiceAccount in a pod, ~/.kube/config elsewhere', () => {
      const home = dir();
      mkdirSync(path.join(home, '.kube'));
      kubeconfig(path.join(home, '.kube'), { server: 'https://home:6443' }, { token: 't' });
      expect(server(loadKubeEndpoint({}, { ...inPod, HOME: home }, serviceAccount()))).toBe(
        'https://10.0.0.1:443',
      );
      expect(server(loadKubeEndpoint({}, { HOME: home }, serviceAccount()))).toBe('https://home:6443');
    });

    it('stops at once, naming the file, in a pod whose ServiceAccount token is not mounted', () => {
      const folder = dir();
      writeFileSync(path.join(folder, 'ca.crt'), 'cluster-ca');
      const tokenFile = path.join(folder, 'token');
      expect(() => loadKubeEndpoint({}, inPod, folder)).toThrow(ConfigError);
      expect(() => loadKubeEndpoint({}, inPod, folder)).toThrow(`${tokenFile} is missing`);
      writeFileSync(tokenFile, '');
      expect(() => loadKubeEndpoint({}, inPod, folder)).toThrow(`${tokenFile} is missing or empty`);
    });
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
