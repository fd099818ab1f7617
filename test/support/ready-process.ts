import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { eventually } from './kube.ts';

/** A server process started by startReadyProcess, answering on its ready URL. */
export interface ReadyProcess {
  child: ChildProcess;
  /** The last 200 KB of its standard output and error. */
  output(): string;
  /** Sends `signal` unless it exited already, and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `command` and resolves once `readyUrl` answers 2xx. A process that exits first, or is not ready
 * within `timeoutMs`, is killed and the error carries its output.
 */
export async function startReadyProcess(
  name: string,
  command: string,
  args: string[],
  { readyUrl, timeoutMs, env }: { readyUrl: string; timeoutMs: number; env?: SpawnOptions['env'] },
): Promise<ReadyProcess> {
  let output = '';
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(env && { env }) });
  const keep = (chunk: Buffer) => {
    output = (output + String(chunk)).slice(-200_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`${name} exited: ${output}`);
      return (await fetch(readyUrl)).ok ? true : undefined;
    },
    { timeoutMs, intervalMs: 200 },
  ).catch((err) => {
    child.kill('SIGKILL');
    throw err;
  });
  return {
    child,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        await exited;
      }
    },
  };
}
