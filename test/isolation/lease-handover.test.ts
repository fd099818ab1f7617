import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeconfigPath } from '../dispatch/harness.ts';
import { type RunningEmulator, startEmulator } from '../emulator/server.ts';
import { type RunningCommand, startCommand } from '../packaging/processes.ts';
import { createTestNamespace, eventually, kubectl } from '../support/kube.ts';
import { operatorFlags } from '../support/operator-flags.ts';

let ns: { name: string; cleanup: () => Promise<void> };
let emulator: RunningEmulator;
const running: RunningCommand[] = [];

beforeAll(async () => {
  ns = await createTestNamespace('lease');
  emulator = await startEmulator();
});
afterAll(async () => {
  await Promise.all(running.map((operator) => operator.stop()));
  await emulator?.close();
  await ns?.cleanup();
});

function operator(identity: string): RunningCommand {
  const command = startCommand([
    'run',
    '--kubeconfig',
    kubeconfigPath(),
    ...operatorFlags(emulator.url, ns.name, [
      '--leader-elect=true',
      `--leader-election-namespace=${ns.name}`,
      '--leader-election-lease=handover',
      `--leader-election-identity=${identity}`,
      '--lease-duration=15s',
      '--renew-deadline=10s',
      '--retry-period=1s',
      '--shutdown-grace-period=1s',
    ]),
  ]);
  running.push(command);
  return command;
}

/** Throws while the Lease does not exist yet; eventually() retries that. */
const holder = async () =>
  kubectl(['get', 'lease', 'handover', '-n', ns.name, '-o', 'jsonpath={.spec.holderIdentity}']);

describe('lease handover', () => {
  it('a leader stopped with SIGTERM has released its Lease when it exits, so a follower need not wait out the lease', async () => {
    const first = operator('first');
    await eventually(async () => ((await holder()) === 'first' ? true : undefined), { timeoutMs: 60_000 });
    operator('second');
    await first.stop();
    // The moment the process is gone: still holding the lease would leave the follower waiting 15 s.
    expect(await holder()).not.toBe('first');
    await eventually(async () => ((await holder()) === 'second' ? true : undefined), { timeoutMs: 60_000 });
  });
});
