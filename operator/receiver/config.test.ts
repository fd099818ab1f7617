import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.ts';
import { loadReceiverConfig, receiverConfigSchema } from './config.ts';

function issuesOf(argv: string[], env: Record<string, string> = {}): readonly string[] {
  try {
    loadReceiverConfig({ argv, env });
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
}

describe('loadReceiverConfig', () => {
  it('has working defaults', () => {
    expect(loadReceiverConfig({ argv: [], env: { POD_NAMESPACE: 'dingtalk-operator' } })).toEqual({
      namespace: 'dingtalk-operator',
      address: '0.0.0.0',
      port: 8080,
      maxBodyBytes: 1 << 20,
      maxBatch: 1000,
      maxAlertPayloadBytes: 4 << 20,
      maxAlertsPerPayload: 20_000,
      maxBytesInFlight: 16 << 20,
      maxNamespaceBytesInFlight: 8 << 20,
      writeConcurrency: 16,
      answerDeadline: 8_000,
      maxLabels: 64,
      maxLabelLength: 1024,
      tokenAudiences: ['dingtalk-operator-receiver'],
      invalidTokenReviewsPerClient: 10,
      invalidTokenReviews: 100,
      authCacheTtl: 30_000,
      authCacheSize: 10_000,
      kubeRequestTimeout: 10_000,
      kubeApiQps: 200,
      kubeApiBurst: 1000,
      retryAfter: 5_000,
      headersTimeout: 10_000,
      requestTimeout: 30_000,
      idleTimeout: 60_000,
      maxConnections: 512,
      maxConnectionsPerAddress: 64,
      namespaceRate: 100,
      namespaceBurst: 10_000,
      logLevel: 'info',
      shutdownDelay: 5_000,
      shutdownGracePeriod: 15_000,
    });
  });

  it('prefers a flag over the environment', () => {
    const config = loadReceiverConfig({
      argv: ['--port', '9090', '--static-token-file=/etc/receiver/token', '--namespace', 'ops'],
      env: {
        DINGTALK_OPERATOR_RECEIVER_PORT: '1',
        DINGTALK_OPERATOR_RECEIVER_AUTH_CACHE_TTL: '1m',
        POD_NAMESPACE: 'x',
      },
    });
    expect(config).toMatchObject({
      port: 9090,
      staticTokenFile: '/etc/receiver/token',
      namespace: 'ops',
      authCacheTtl: 60_000,
    });
  });

  it('names the flag or variable, the rule and the value given', () => {
    expect(issuesOf(['--max-labels', '100', '--namespace=Ops'])).toEqual([
      '--namespace must be a namespace name (got "Ops")',
      '--max-labels must be an integer between 1 and 64 (got "100")',
    ]);
    expect(issuesOf([], { DINGTALK_OPERATOR_RECEIVER_MAX_BODY_BYTES: 'lots', POD_NAMESPACE: 'a' })).toEqual([
      'DINGTALK_OPERATOR_RECEIVER_MAX_BODY_BYTES must be an integer between 1024 and 67108864 (got "lots")',
    ]);
    expect(issuesOf(['--bogus'])[0]).toMatch(/Unknown option '--bogus'/);
  });

  it('caps the auth cache at a minute, so a revoked token stops working within one', () => {
    expect(issuesOf(['--auth-cache-ttl=61s', '--namespace=a'])).toEqual([
      '--auth-cache-ttl must be a duration such as 15s, 30m or 24h, between 0s and 1m (got "61s")',
    ]);
  });

  it('wants both TLS files or neither, and a namespace burst that lets a full batch through', () => {
    expect(issuesOf(['--tls-cert-file=/tls/tls.crt', '--namespace=a'])).toEqual([
      '--tls-key-file must be given together with the other of --tls-cert-file and --tls-key-file',
    ]);
    expect(issuesOf(['--idle-timeout=5s', '--namespace=a'])).toEqual([
      '--idle-timeout must be longer than --answer-deadline (8s), or a connection waiting for its answer is closed (got "5s")',
    ]);
  });

  it('admits a body at each bound', () => {
    expect(
      issuesOf(['--max-namespace-bytes-in-flight=4096', '--max-bytes-in-flight=2048', '--namespace=a']),
    ).toEqual([
      '--max-namespace-bytes-in-flight must be at most --max-bytes-in-flight (2048) (got "4096")',
      '--max-alert-payload-bytes must be at most --max-namespace-bytes-in-flight (4096), or a body at the bound is never admitted',
      '--max-body-bytes must be at most --max-namespace-bytes-in-flight (4096), or a body at the bound is never admitted',
    ]);
  });

  it('scopes the static token to listed namespaces and reads audiences as given', () => {
    expect(
      loadReceiverConfig({
        argv: ['--static-token-namespaces=team-a, team-b', '--token-audiences=https://Receiver.example,b'],
        env: { POD_NAMESPACE: 'ops' },
      }),
    ).toMatchObject({
      staticTokenNamespaces: ['team-a', 'team-b'],
      tokenAudiences: ['https://Receiver.example', 'b'],
    });
  });

  it('gives every setting a flag and a description for the generated reference', () => {
    for (const [key, field] of Object.entries(receiverConfigSchema.shape)) {
      const meta = field.meta() as { flag?: string; description?: string } | undefined;
      expect(meta?.flag, key).toMatch(/^--[a-z-]+$/);
      expect(meta?.description, key).toBeTruthy();
    }
  });
});
