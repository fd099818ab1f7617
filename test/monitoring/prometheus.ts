import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { freePort } from '../alertmanager/harness.ts';
import { startReadyProcess } from '../support/ready-process.ts';

/** Prometheus and promtool, built from Prometheus's Go module (test/monitoring/build.sh). */

const run = promisify(execFile);
export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const ALERTS = path.join(repoRoot, 'charts/dingtalk-operator/files/alerts.yaml');
export const DASHBOARD = path.join(repoRoot, 'charts/dingtalk-operator/files/dashboard.json');

/** Builds both when the cache has none (minutes, once per machine); returns their paths. */
export async function prometheusBinaries(): Promise<{ prometheus: string; promtool: string }> {
  await run('bash', [path.join(repoRoot, 'test/monitoring/build.sh')], { maxBuffer: 64 << 20 });
  const { stdout } = await run('bash', [path.join(repoRoot, 'test/cluster/paths.sh')]);
  const prometheus = /^PROMETHEUS=(.*)$/m.exec(stdout)?.[1];
  const promtool = /^PROMTOOL=(.*)$/m.exec(stdout)?.[1];
  if (!prometheus || !promtool) throw new Error('test/cluster/paths.sh names no PROMETHEUS or PROMTOOL');
  return { prometheus, promtool };
}

export interface RunningPrometheus {
  url: string;
  /** The `data` of an HTTP API answer (GET /api/v1/<endpoint>); throws on an error answer. */
  api<T>(endpoint: string, query?: Record<string, string>): Promise<T>;
  stop(): Promise<void>;
  output(): string;
}

/** Prometheus scraping `targets` (host:port, /metrics) every second and evaluating `ruleFiles` as often. */
export async function startPrometheus(targets: string[], ruleFiles: string[]): Promise<RunningPrometheus> {
  const { prometheus } = await prometheusBinaries();
  const dir = mkdtempSync(path.join(tmpdir(), 'prometheus-'));
  const configFile = path.join(dir, 'prometheus.yml');
  writeFileSync(
    configFile,
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: ruleFiles,
      scrape_configs: [{ job_name: 'dingtalk-operator', static_configs: [{ targets }] }],
    }),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startReadyProcess(
    'prometheus',
    prometheus,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { readyUrl: `${url}/-/ready`, timeoutMs: 60_000 },
  );
  return {
    url,
    async api<T>(endpoint: string, query: Record<string, string> = {}) {
      const response = await fetch(`${url}/api/v1/${endpoint}?${new URLSearchParams(query)}`);
      const body = (await response.json()) as { status: string; data: T; error?: string };
      if (body.status !== 'success') throw new Error(`prometheus ${endpoint}: ${body.error}`);
      return body.data;
    },
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    output: server.output,
  };
}
