import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from 'node:tls';
import { promisify } from 'node:util';
import { AuthenticationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConfigError } from '../../operator/errors.ts';
import { DEFAULT_TOKEN_AUDIENCE, loadReceiverConfig } from '../../operator/receiver/config.ts';
import { startApiProxy } from '../support/api-proxy.ts';
import { createTestNamespace, eventually, testKubeConfig } from '../support/kube.ts';
import {
  alertmanagerPayload,
  diskAlert,
  listAlarmEvents,
  postJson,
  requestToken,
  serviceAccountToken,
  startReceiver,
} from './support.ts';

/**
 * Who may post what where, attacked on the real API server: tokens meant for something else, a caller
 * that may raise alarms but not resolve them, the static token outside its namespaces, a revoked
 * token, and the listener's certificate being renewed.
 */

const run = promisify(execFile);

describe('receiver callers, scoped', () => {
  let kubeConfig: KubeConfig;
  let teamA: { name: string; cleanup: () => Promise<void> };
  let teamB: { name: string; cleanup: () => Promise<void> };
  const dir = mkdtempSync(path.join(tmpdir(), 'receiver-callers-'));

  beforeAll(async () => {
    kubeConfig = testKubeConfig();
    teamA = await createTestNamespace('callers-a');
    teamB = await createTestNamespace('callers-b');
  });

  afterAll(async () => {
    await teamA?.cleanup();
    await teamB?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const url = (namespace: string) => (receiverUrl: string) =>
    `${receiverUrl}/api/v1/namespaces/${namespace}/alertmanager`;

  it('refuses a token issued for the API server, so the receiver never holds one it could replay there', async () => {
    await serviceAccountToken(kubeConfig, teamA.name, 'replayed', { mayCreate: true });
    const apiServerToken = await requestToken(kubeConfig, teamA.name, 'replayed', []);
    const receiver = await startReceiver(kubeConfig);
    try {
      const response = await postJson(
        url(teamA.name)(receiver.url),
        alertmanagerPayload([diskAlert(1)]),
        apiServerToken,
      );
      expect(response.status).toBe(401);
      expect(response.json.message).toMatch(/not for this receiver \("dingtalk-operator-receiver"\)/);
      expect(await listAlarmEvents(kubeConfig, teamA.name)).toEqual([]);
    } finally {
      await receiver.close();
    }
  });

  it('refuses a token the API server vouched for without naming the receiver’s audience, after its TokenReview', async () => {
    // The caller may raise alarms: only the audience stands between its token and an AlarmEvent.
    await serviceAccountToken(kubeConfig, teamA.name, 'unaware', { mayCreate: true });
    // An opaque token (no JWT claims for the receiver to judge), vouched for as an authenticator that
    // ignores spec.audiences does: it answers for the API server's audience, not the receiver's.
    const proxy = await startApiProxy(inject('kubeconfig'));
    proxy.answerPosts('/apis/authentication.k8s.io/v1/tokenreviews', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      status: {
        authenticated: true,
        user: {
          username: `system:serviceaccount:${teamA.name}:unaware`,
          groups: ['system:serviceaccounts', `system:serviceaccounts:${teamA.name}`, 'system:authenticated'],
        },
        audiences: ['https://kubernetes.default.svc.cluster.local'],
      },
    });
    const proxied = new KubeConfig();
    proxied.loadFromFile(proxy.kubeconfig);
    const receiver = await startReceiver(proxied);
    try {
      const response = await postJson(
        url(teamA.name)(receiver.url),
        alertmanagerPayload([diskAlert(2)]),
        'opaque-token-of-an-audience-unaware-authenticator',
      );
      expect(response.status).toBe(401);
      expect(response.json.message).toMatch(
        /the API server authenticated the token, but not for this receiver/,
      );
      expect(await listAlarmEvents(kubeConfig, teamA.name)).toEqual([]);
    } finally {
      await receiver.close();
      await proxy.close();
    }
  });

  it('does not let a caller that may only create AlarmEvents silence an alarm by resolving it', async () => {
    const alertmanager = await serviceAccountToken(kubeConfig, teamA.name, 'alertmanager', {
      mayCreate: true,
    });
    const createOnly = await serviceAccountToken(kubeConfig, teamA.name, 'create-only', {
      mayCreate: true,
      verbs: ['create'],
    });
    const receiver = await startReceiver(kubeConfig);
    try {
      const fired = await postJson(
        url(teamA.name)(receiver.url),
        alertmanagerPayload([diskAlert(7, 'firing', 7)]),
        alertmanager,
      );
      expect(fired.status).toBe(202);
      const silenced = await postJson(
        url(teamA.name)(receiver.url),
        alertmanagerPayload([diskAlert(7, 'resolved', 7)]),
        createOnly,
      );
      expect(silenced.status).toBe(403);
      expect(silenced.json.message).toMatch(/may not patch .* \(needed to resolve alarms\)/);
      const [event] = (await listAlarmEvents(kubeConfig, teamA.name)).filter((e) =>
        e.metadata.name?.startsWith('fp-0000000000001b5f'),
      );
      expect(event?.spec.state).toBe('firing');
      // The caller that may patch resolves it.
      const resolved = await postJson(
        url(teamA.name)(receiver.url),
        alertmanagerPayload([diskAlert(7, 'resolved', 7)]),
        alertmanager,
      );
      expect(resolved.status).toBe(202);
    } finally {
      await receiver.close();
    }
  });

  it("does not let the static token write to another team's namespace", async () => {
    const file = path.join(dir, 'static-token');
    writeFileSync(file, 'team-a-shared-secret\n');
    const receiver = await startReceiver(kubeConfig, {
      flags: [`--static-token-file=${file}`, `--static-token-namespaces=${teamA.name}`],
    });
    try {
      const intoB = await postJson(
        url(teamB.name)(receiver.url),
        alertmanagerPayload([diskAlert(2)]),
        'team-a-shared-secret',
      );
      expect(intoB.status).toBe(403);
      expect(await listAlarmEvents(kubeConfig, teamB.name)).toEqual([]);
      const intoA = await postJson(
        url(teamA.name)(receiver.url),
        alertmanagerPayload([diskAlert(2)]),
        'team-a-shared-secret',
      );
      expect(intoA.status).toBe(202);
    } finally {
      await receiver.close();
    }
  });

  it('stops accepting a revoked token within a minute, however long the cache is configured', async () => {
    // The longest cache the receiver can be configured with.
    const ttl = ['10m', '5m', '2m', '1m'].find((value) => {
      try {
        loadReceiverConfig({ argv: [`--auth-cache-ttl=${value}`], env: { POD_NAMESPACE: 'x' } });
        return true;
      } catch (err) {
        if (err instanceof ConfigError) return false;
        throw err;
      }
    });
    const token = await serviceAccountToken(kubeConfig, teamB.name, 'revoked', { mayCreate: true });
    const clock = { offset: 0 };
    const receiver = await startReceiver(kubeConfig, {
      flags: [`--auth-cache-ttl=${ttl}`],
      now: () => Date.now() + clock.offset,
    });
    try {
      const before = await postJson(
        url(teamB.name)(receiver.url),
        alertmanagerPayload([diskAlert(3)]),
        token,
      );
      expect(before.status).toBe(202);
      await kubeConfig
        .makeApiClient(CoreV1Api)
        .deleteNamespacedServiceAccount({ name: 'revoked', namespace: teamB.name });
      // The API server caches its own answers for a few seconds: wait until it no longer vouches for the
      // token, then let the receiver's clock run out its longest cache.
      const authentication = kubeConfig.makeApiClient(AuthenticationV1Api);
      await eventually(
        async () => {
          const review = await authentication.createTokenReview({
            body: { spec: { token, audiences: [DEFAULT_TOKEN_AUDIENCE] } },
          });
          return review.status?.authenticated ? undefined : true;
        },
        { timeoutMs: 60_000, intervalMs: 1_000 },
      );
      clock.offset = 60_001;
      const after = await postJson(url(teamB.name)(receiver.url), alertmanagerPayload([diskAlert(4)]), token);
      expect(after.status).toBe(401);
    } finally {
      await receiver.close();
    }
  });

  it('serves TLS from mounted certificate files and picks up their renewal without a restart', async () => {
    const certFile = path.join(dir, 'tls.crt');
    const keyFile = path.join(dir, 'tls.key');
    const first = await selfSigned(path.join(dir, 'first'));
    const second = await selfSigned(path.join(dir, 'second'));
    writeFileSync(certFile, first.cert);
    writeFileSync(keyFile, first.key);
    const token = await serviceAccountToken(kubeConfig, teamA.name, 'tls-caller', { mayCreate: true });
    const receiver = await startReceiver(kubeConfig, {
      flags: [`--tls-cert-file=${certFile}`, `--tls-key-file=${keyFile}`],
    });
    try {
      expect(receiver.url).toMatch(/^https:/);
      const trustingFirst = new Agent({ connect: { ca: first.cert } });
      const response = await request(url(teamA.name)(receiver.url), {
        method: 'POST',
        dispatcher: trustingFirst,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(alertmanagerPayload([diskAlert(5)])),
      });
      expect(response.statusCode).toBe(202);
      await response.body.dump();
      await trustingFirst.close();
      expect(await servedFingerprint(receiver.url)).toBe(first.fingerprint);

      writeFileSync(keyFile, second.key);
      writeFileSync(certFile, second.cert);
      await eventually(
        async () => ((await servedFingerprint(receiver.url)) === second.fingerprint ? true : undefined),
        { timeoutMs: 30_000, intervalMs: 500 },
      );
    } finally {
      await receiver.close();
    }
  });
});

async function selfSigned(prefix: string): Promise<{ cert: string; key: string; fingerprint: string }> {
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${prefix}.key`,
    '-out',
    `${prefix}.crt`,
    '-days',
    '1',
    '-subj',
    '/CN=receiver',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  const cert = readFileSync(`${prefix}.crt`, 'utf8');
  return {
    cert,
    key: readFileSync(`${prefix}.key`, 'utf8'),
    fingerprint: new X509Certificate(cert).fingerprint256,
  };
}

/** The fingerprint of the certificate a new TLS connection to `url` is served. */
function servedFingerprint(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.once('error', reject);
  });
}
