import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../emulator/server.ts';
import { createTestNamespace, eventually, testKubeConfig } from '../support/kube.ts';
import { operatorFlags } from '../support/operator-flags.ts';
import { condition, hex, objects } from './harness.ts';

/**
 * `dingtalk-operator run` never loads @kubernetes/client-node on its normal path (a kubeconfig with a
 * client certificate, here; a ServiceAccount in a pod): that package alone costs a process about 34 MiB
 * (bench/results/README.md). The operator runs as its own process with a module hook that reports every
 * package it resolves, through start-up, leader election, a service validated to Ready (informers, the
 * Secret read, status patches, events) and shutdown.
 */

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const PROBE = 'resolved package:';

/** A module for `--import` that prints each bare specifier the process resolves, from import or require. */
function probeModule(): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'module-probe-')), 'probe.mjs');
  writeFileSync(
    file,
    `import { registerHooks } from 'node:module';
registerHooks({
  resolve(specifier, context, next) {
    if (!/^(node:|[./]|file:|data:)/.test(specifier)) process.stderr.write(${JSON.stringify(PROBE)} + ' ' + specifier + '\\n');
    return next(specifier, context);
  },
});
`,
  );
  return file;
}

describe('the operator process', () => {
  const kubeConfig = testKubeConfig();
  let namespace: string;
  let cleanup: () => Promise<void>;
  let emulator: RunningEmulator;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    ({ name: namespace, cleanup } = await createTestNamespace('no-client-node'));
    emulator = await startEmulator();
  });
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await emulator.close();
    await cleanup();
  });

  it('does not load @kubernetes/client-node while it elects, validates a service and shuts down', async () => {
    let output = '';
    child = spawn(
      process.execPath,
      [
        '--import',
        probeModule(),
        path.join(repoRoot, 'operator/cli.ts'),
        'run',
        '--kubeconfig',
        inject('kubeconfig'),
        ...operatorFlags(emulator.url, namespace),
        '--leader-elect',
        'true',
        '--leader-election-namespace',
        namespace,
        '--leader-election-identity',
        'probed',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBECONFIG: '' } },
    );
    child.stdout?.on('data', (chunk) => {
      output += String(chunk);
    });
    child.stderr?.on('data', (chunk) => {
      output += String(chunk);
    });
    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));

    const o = objects(kubeConfig, namespace);
    const token = hex(32);
    await emulator.control.putRobot(token, { name: 'ops' });
    await o.putSecret('robot', { webhook: `${emulator.url}/robot/send?access_token=${token}` });
    await o.createService('probed', {
      sendTo: ['Group'],
      groups: [{ name: 'ops', webhook: { name: 'robot', key: 'webhook' } }],
    });
    await eventually(
      async () =>
        condition((await o.service('probed')).status, 'Ready')?.status === 'True' ? true : undefined,
      { timeoutMs: 90_000 },
    );
    expect(output).toContain('leading; starting components');
    // The readiness event, recorded after the status patch.
    await eventually(async () => ((await o.eventNotes()) !== '[]' ? true : undefined));

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const packages = new Set(
      output
        .split('\n')
        .filter((line) => line.startsWith(PROBE))
        .map((line) => line.slice(PROBE.length).trim()),
    );
    // The probe saw the operator's own packages, so it would have seen client-node too.
    expect(packages).toContain('undici');
    expect(packages).toContain('pino');
    expect([...packages].filter((name) => name.startsWith('@kubernetes/client-node'))).toEqual([]);
  });
});
