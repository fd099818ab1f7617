import { describe, expect, it } from 'vitest';
import { configSchema, loadConfig, parseDuration } from './config.ts';
import { ConfigError } from './errors.ts';

function issuesOf(argv: string[], env: Record<string, string> = {}): readonly string[] {
  try {
    loadConfig({ argv, env });
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
}

describe('loadConfig', () => {
  it('has working defaults', () => {
    const config = loadConfig({ argv: [], env: { POD_NAME: 'op-0', POD_NAMESPACE: 'ops' } });
    expect(config).toMatchObject({
      namespaces: [],
      workers: 4,
      leaderElect: true,
      leaseName: 'dingtalk-operator-leader',
      leaseNamespace: 'ops',
      identity: 'op-0',
      leaseDuration: 15_000,
      renewDeadline: 10_000,
      retryPeriod: 2_000,
      healthPort: 8081,
      logLevel: 'info',
      revalidateInterval: 30 * 60_000,
      dingtalkRobotUrl: 'https://oapi.dingtalk.com',
      dingtalkApiUrl: 'https://api.dingtalk.com',
      allowedWebhookHosts: ['oapi.dingtalk.com'],
      robotRateLimit: 20,
      eventTtl: 24 * 3_600_000,
    });
  });

  it('prefers a flag over the environment', () => {
    const config = loadConfig({
      argv: ['--workers', '8', '--namespaces=a,b'],
      env: { DINGTALK_OPERATOR_WORKERS: '2', DINGTALK_OPERATOR_LOG_LEVEL: 'debug' },
    });
    expect(config.workers).toBe(8);
    expect(config.namespaces).toEqual(['a', 'b']);
    expect(config.logLevel).toBe('debug');
  });

  it('names the flag, the rule and the value given', () => {
    expect(issuesOf(['--workers', 'x'])).toEqual(['--workers must be an integer between 1 and 64 (got "x")']);
    expect(issuesOf(['--workers=100'])).toEqual([
      '--workers must be an integer between 1 and 64 (got "100")',
    ]);
  });

  it('names the environment variable when the value came from there', () => {
    expect(issuesOf([], { DINGTALK_OPERATOR_REVALIDATE_INTERVAL: 'soon' })).toEqual([
      'DINGTALK_OPERATOR_REVALIDATE_INTERVAL must be a duration such as 15s, 30m or 24h, between 10s and 168h (got "soon")',
    ]);
  });

  it('reports every bad value at once', () => {
    const issues = issuesOf([
      '--leader-elect=maybe',
      '--dingtalk-api-url=ftp://x',
      '--allowed-webhook-hosts=ok.example, not a host',
      '--log-level=loud',
    ]);
    expect(issues).toEqual([
      '--leader-elect must be true or false (got "maybe")',
      '--log-level must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
      '--dingtalk-api-url must be an http(s) URL without query or fragment, e.g. https://oapi.dingtalk.com (got "ftp://x")',
      '--allowed-webhook-hosts must be a comma-separated list of host names (got "ok.example, not a host")',
    ]);
  });

  it('checks that lease timings fit together', () => {
    expect(issuesOf(['--lease-duration=10s', '--renew-deadline=10s'])).toEqual([
      '--renew-deadline must be shorter than --lease-duration (got "10s")',
    ]);
  });

  it('rejects unknown flags', () => {
    expect(issuesOf(['--wrokers=2'])[0]).toMatch(/wrokers/);
  });

  it('parses Go-style durations', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('15')).toBeUndefined();
  });

  it('carries flag, environment variable and description on every field for generated docs', () => {
    for (const field of Object.values(configSchema.shape)) {
      expect(field.meta()).toMatchObject({
        flag: expect.stringMatching(/^--/),
        description: expect.any(String),
      });
    }
  });
});
