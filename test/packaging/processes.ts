import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { repoRoot } from './helm.ts';

/** A `dingtalk-operator` subcommand running as its own process, its output kept for failure messages. */
export interface RunningCommand {
  /** The process id, e.g. to read /proc/<pid>/status. */
  pid: number | undefined;
  /** False once the process has exited. */
  running(): boolean;
  output(): string;
  stop(): Promise<void>;
}

/** `env` adds variables, as a pod spec's `env` would. */
export function startCommand(args: string[], env: Record<string, string> = {}): RunningCommand {
  const child: ChildProcess = spawn(process.execPath, ['operator/cli.ts', ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Not the test runner's environment: a process in a pod sees none of it.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    pid: child.pid,
    running: () => child.exitCode === null && child.signalCode === null,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A port nobody listens on right now, for a process that takes a port flag. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}
