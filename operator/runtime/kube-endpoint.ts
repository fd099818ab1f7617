import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../errors.ts';

/**
 * The API server and credentials for KubeHttp (runtime/kube-http.ts), read without
 * @kubernetes/client-node: loading that package costs a process about 35 MiB (most of it the sources
 * of its generated API classes, bench/results/README.md). In a pod that is the ServiceAccount;
 * otherwise a kubeconfig with a token, a client certificate or a user name and password (basic auth),
 * and the forward proxy its cluster names (proxy-url). Token and certificate files are read again each
 * time the credentials are asked for (KubeHttp does every 30 s), so what kubelet or a renewal job
 * rotates is taken up. Kubeconfigs that need more (an exec plugin, an auth provider, several files in
 * $KUBECONFIG) are handed to client-node after all, loaded only then.
 *
 * Both this and client-node's KubeConfig satisfy KubeEndpoint.
 */

export interface HttpsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
  headers?: Record<string, string | string[]>;
}

export interface KubeEndpoint {
  /** `proxyUrl`: the forward proxy to reach the server through (a kubeconfig cluster's proxy-url). */
  getCurrentCluster(): { server: string; proxyUrl?: string | undefined } | null;
  /** Fills in TLS settings and credential headers; called again for fresh credentials. */
  applyToHTTPSOptions(options: HttpsOptions): Promise<void>;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

interface Credentials {
  server: string;
  proxyUrl?: string | undefined;
  ca?: Buffer;
  insecure?: boolean;
  servername?: string;
  token?: string;
  tokenFile?: string;
  cert?: Buffer;
  key?: Buffer;
  /** Read each time instead of `cert` and `key`, so a certificate rotated on disk is taken up. */
  certFile?: string;
  keyFile?: string;
  basicAuth?: { username: string; password: string } | undefined;
}

class StaticEndpoint implements KubeEndpoint {
  readonly #credentials: Credentials;

  constructor(credentials: Credentials) {
    this.#credentials = credentials;
  }

  getCurrentCluster(): { server: string; proxyUrl?: string | undefined } {
    const { server, proxyUrl } = this.#credentials;
    return { server, proxyUrl };
  }

  async applyToHTTPSOptions(options: HttpsOptions): Promise<void> {
    const { ca, insecure, servername, token, tokenFile, basicAuth } = this.#credentials;
    const { certFile, keyFile } = this.#credentials;
    const cert = certFile ? readFileSync(certFile) : this.#credentials.cert;
    const key = keyFile ? readFileSync(keyFile) : this.#credentials.key;
    if (ca) options.ca = ca;
    if (insecure) options.rejectUnauthorized = false;
    if (servername) options.servername = servername;
    if (cert) options.cert = cert;
    if (key) options.key = key;
    const bearer = tokenFile ? readFileSync(tokenFile, 'utf8').trim() : token;
    if (bearer) options.headers = { ...options.headers, Authorization: `Bearer ${bearer}` };
    else if (basicAuth) {
      const encoded = Buffer.from(`${basicAuth.username}:${basicAuth.password}`).toString('base64');
      options.headers = { ...options.headers, Authorization: `Basic ${encoded}` };
    }
  }
}

/**
 * The endpoint, found as controller-runtime finds it: the `--kubeconfig` file when given; else the
 * files $KUBECONFIG names; else the ServiceAccount when running in a pod; else ~/.kube/config.
 * Synchronous, so that a bad kubeconfig or a pod without its token stops the process before anything
 * starts.
 */
export function loadKubeEndpoint(
  config: { kubeconfig?: string | undefined },
  env: Readonly<Record<string, string | undefined>> = process.env,
  serviceAccountDir = SERVICE_ACCOUNT_DIR,
): KubeEndpoint {
  if (config.kubeconfig) return fromKubeconfigFile(config.kubeconfig);
  const files = env.KUBECONFIG?.split(path.delimiter).filter(Boolean) ?? [];
  if (files.length > 1) return clientNode(undefined);
  if (files[0]) return fromKubeconfigFile(files[0]);
  if (env.KUBERNETES_SERVICE_HOST) return inCluster(env, serviceAccountDir);
  return fromKubeconfigFile(path.join(env.HOME || homedir(), '.kube', 'config'));
}

/** Checked here, once, so that a pod whose token is not mounted fails at start, not on every call. */
function inCluster(env: Readonly<Record<string, string | undefined>>, dir: string): KubeEndpoint {
  const host = env.KUBERNETES_SERVICE_HOST as string;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  const tokenFile = path.join(dir, 'token');
  const caFile = path.join(dir, 'ca.crt');
  for (const file of [tokenFile, caFile]) {
    if (!readable(file)) {
      throw new ConfigError([
        `running in a pod (KUBERNETES_SERVICE_HOST is set) but ${file} is missing or empty: mount the ` +
          'ServiceAccount token (automountServiceAccountToken) or give --kubeconfig',
      ]);
    }
  }
  return new StaticEndpoint({
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca: readFileSync(caFile),
    tokenFile,
  });
}

function readable(file: string): boolean {
  try {
    return readFileSync(file).length > 0;
  } catch {
    return false;
  }
}

type Fields = Record<string, unknown>;

// Loaded only for a kubeconfig: in a pod neither is needed.
const load = createRequire(import.meta.url);

function fromKubeconfigFile(file: string): KubeEndpoint {
  const { parse } = load('yaml') as typeof import('yaml');
  const doc = (parse(readFileSync(file, 'utf8')) ?? {}) as {
    'current-context'?: string;
    contexts?: { name: string; context?: { cluster?: string; user?: string } }[];
    clusters?: { name: string; cluster?: Fields }[];
    users?: { name: string; user?: Fields }[];
  };
  const context = doc.contexts?.find((c) => c.name === doc['current-context'])?.context;
  const cluster = doc.clusters?.find((c) => c.name === context?.cluster)?.cluster;
  const user = doc.users?.find((u) => u.name === context?.user)?.user ?? {};
  if (!context || !cluster || typeof cluster.server !== 'string') {
    throw new Error(`${file}: no current context with a cluster and its server`);
  }
  if (user.exec || user['auth-provider']) return clientNode(file);
  const dir = path.dirname(file);
  const data = (inline: unknown, fileName: unknown): Buffer | undefined => {
    if (typeof inline === 'string') return Buffer.from(inline, 'base64');
    if (typeof fileName === 'string') return readFileSync(path.resolve(dir, fileName));
    return undefined;
  };
  // A file is read now, so that a missing one stops the process at start, and again each time.
  const pem = (inline: unknown, fileName: unknown): { data?: Buffer; file?: string } => {
    if (typeof inline === 'string') return { data: Buffer.from(inline, 'base64') };
    if (typeof fileName !== 'string') return {};
    const file = path.resolve(dir, fileName);
    readFileSync(file);
    return { file };
  };
  const cert = pem(user['client-certificate-data'], user['client-certificate']);
  const key = pem(user['client-key-data'], user['client-key']);
  return new StaticEndpoint({
    server: cluster.server,
    ca: data(cluster['certificate-authority-data'], cluster['certificate-authority']),
    insecure: cluster['insecure-skip-tls-verify'] === true,
    servername: typeof cluster['tls-server-name'] === 'string' ? cluster['tls-server-name'] : undefined,
    proxyUrl: typeof cluster['proxy-url'] === 'string' ? cluster['proxy-url'] : undefined,
    token: typeof user.token === 'string' ? user.token : undefined,
    tokenFile: typeof user.tokenFile === 'string' ? path.resolve(dir, user.tokenFile) : undefined,
    cert: cert.data,
    certFile: cert.file,
    key: key.data,
    keyFile: key.file,
    basicAuth:
      typeof user.username === 'string'
        ? { username: user.username, password: typeof user.password === 'string' ? user.password : '' }
        : undefined,
  });
}

function clientNode(file: string | undefined): KubeEndpoint {
  const { KubeConfig } = load('@kubernetes/client-node') as typeof import('@kubernetes/client-node');
  const kubeConfig = new KubeConfig();
  if (file) kubeConfig.loadFromFile(file);
  else kubeConfig.loadFromDefault();
  return kubeConfig;
}
