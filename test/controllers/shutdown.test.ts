import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { componentFactories } from '../../operator/components.ts';
import { loadConfig } from '../../operator/config.ts';
import { Manager } from '../../operator/manager/manager.ts';
import { createLogger } from '../../operator/runtime/logger.ts';
import { createTestNamespace } from '../support/kube.ts';
import { operatorFlags } from '../support/operator-flags.ts';
import { hex } from './harness.ts';

/**
 * A shutdown that comes while the operator is still starting (a SIGTERM during a rollout, a test that
 * stops at once) ends everything: shutdown returns, run() ends without an error, and no component is
 * left waiting for caches that will never sync.
 */
describe('operator shutdown during start-up', () => {
  let namespace: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ name: namespace, cleanup } = await createTestNamespace('shutdown'));
  });
  afterAll(async () => {
    await cleanup();
  });

  /** The operator in-process; `onLine` sees each log line as it is written. */
  function operator(extra: string[], onLine: (line: string, manager: Manager) => void = () => undefined) {
    const lines: string[] = [];
    let manager: Manager | undefined;
    const logger = createLogger({
      level: 'info',
      destination: new Writable({
        write(chunk, _encoding, callback) {
          lines.push(String(chunk));
          if (manager) onLine(String(chunk), manager);
          callback();
        },
      }),
    });
    // DingTalk is never called here: no service exists in the namespace.
    const config = loadConfig({
      argv: ['--kubeconfig', inject('kubeconfig'), ...operatorFlags('http://127.0.0.1:9', namespace, extra)],
      env: {},
    });
    manager = new Manager(config, logger, componentFactories);
    return { manager, lines };
  }

  /** Runs the operator, lets `stopWhen` start the shutdown, and returns how run() and shutdown() ended. */
  async function stoppedDuringStart(extra: string[], stopWhen: 'at once' | 'components starting') {
    let stopping: Promise<void> | undefined;
    const { manager, lines } = operator(extra, (line, m) => {
      if (stopWhen === 'components starting' && line.includes('leading; starting components')) {
        stopping ??= m.shutdown();
      }
    });
    const running = manager.run().then(
      () => 'resolved',
      (err: unknown) => `rejected: ${String(err)}`,
    );
    if (stopWhen === 'at once') stopping = manager.shutdown();
    else await until(() => stopping !== undefined);
    await stopping;
    return { run: await running, lines: lines.join('') };
  }

  it('completes when it comes before the caches start, and run ends without error', async () => {
    const { run } = await stoppedDuringStart([], 'at once');
    expect(run).toBe('resolved');
  }, 60_000);

  it('completes when it comes while components wait for caches to sync, and run ends without error', async () => {
    const { run, lines } = await stoppedDuringStart([], 'components starting');
    expect(run).toBe('resolved');
    // The start-up was indeed cut short: dispatch never started.
    expect(lines).not.toContain('dispatch started');
  }, 60_000);

  it('completes for an elected leader stopped while its components wait for caches', async () => {
    const { run, lines } = await stoppedDuringStart(
      [
        '--leader-elect',
        'true',
        '--leader-election-namespace',
        namespace,
        '--leader-election-lease',
        `shutdown-${hex(4)}`,
        '--leader-election-identity',
        'starting',
      ],
      'components starting',
    );
    expect(run).toBe('resolved');
    expect(lines).not.toContain('dispatch started');
  }, 60_000);
});

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
}
