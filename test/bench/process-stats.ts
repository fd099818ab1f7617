import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';

/**
 * What the benchmarks measure about a process and the machine: CPU seconds and RSS from /proc, peak RSS
 * sampled while a load runs, the memory limits the chart gives each container (the benchmarks run the
 * processes with them, as deployed), and a one-line description of the machine and its load.
 */

const MIB = 2 ** 20;
const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

export const mib = (bytes: number) => (bytes / MIB).toFixed(0);

/** CPU clock ticks (user + system, 100 a second on Linux) of a process or thread, from its stat file. */
function cpuTicks(statFile: string): number {
  // utime and stime are fields 14 and 15 of the stat file.
  const stat = readFileSync(statFile, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(stat[11]) + Number(stat[12]);
}

/** CPU seconds (user + system) and RSS of a process, from /proc. */
export function usage(pid: number): { cpuSeconds: number; rss: number } {
  const ticks = cpuTicks(`/proc/${pid}/stat`);
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  return { cpuSeconds: ticks / 100, rss };
}

/**
 * CPU seconds of a process by thread: its main (JavaScript) thread, V8's worker threads (concurrent garbage
 * collection, compiling) and the rest (libuv's pool, Node's own). A profile of the main thread does not see the
 * workers, so this tells a change in JavaScript work from a change in garbage collection. A thread that
 * has exited counts in `rest` (the process's total less the live threads).
 */
export function cpuByThread(pid: number): { main: number; v8Workers: number; rest: number } {
  let main = 0;
  let v8Workers = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let ticks: number;
    let name: string;
    try {
      ticks = cpuTicks(`/proc/${pid}/task/${tid}/stat`);
      name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8');
    } catch {
      continue; // exited while listed
    }
    if (tid === String(pid)) main += ticks;
    else if (name.startsWith('V8')) v8Workers += ticks;
  }
  const total = cpuTicks(`/proc/${pid}/stat`);
  // The total and the threads are read apart, so their difference can come out a tick below zero.
  return { main: main / 100, v8Workers: v8Workers / 100, rest: Math.max(0, total - main - v8Workers) / 100 };
}

/** Samples a process's RSS every `intervalMs`; `peak()` since start or the last `reset()`. */
export function rssSampler(pid: number, intervalMs = 250) {
  let peak = 0;
  const sample = () => {
    try {
      peak = Math.max(peak, usage(pid).rss);
    } catch {
      // The process has exited; the peak so far stands.
    }
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    peak: () => {
      sample();
      return peak;
    },
    reset: () => {
      peak = 0;
      sample();
    },
    stop: () => clearInterval(timer),
  };
}

/** The chart's memory limit for a container (`operator` or `receiver`), as a quantity such as 256Mi. */
export function chartMemoryLimit(container: 'operator' | 'receiver'): string {
  const values = parse(readFileSync(path.join(repoRoot, 'charts/dingtalk-operator/values.yaml'), 'utf8'));
  const limit = values?.[container]?.resources?.limits?.memory;
  if (typeof limit !== 'string') throw new Error(`values.yaml has no ${container}.resources.limits.memory`);
  return limit;
}

/**
 * The environment of a product process started by a benchmark, as in the image and the chart: its memory
 * limit is the chart's, so it sizes its heap as in the cluster (operator/runtime/heap.ts), and its
 * modules' compiled code comes from a cache that run.sh fills as the Dockerfile does.
 */
export function deployedEnv(container: 'operator' | 'receiver'): NodeJS.ProcessEnv {
  const cache = process.env.BENCH_COMPILE_CACHE;
  return {
    ...process.env,
    DINGTALK_OPERATOR_MEMORY_LIMIT: chartMemoryLimit(container),
    ...(cache && { NODE_COMPILE_CACHE: cache }),
  };
}

export function machine(): string {
  const [one] = loadavg();
  return `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), ${mib(totalmem())} MiB RAM, Node ${process.versions.node}; load average ${one?.toFixed(1)} when the results were written`;
}

/** Kills `child` when the benchmark exits, also when it fails, so no measured process is left running. */
export function killOnExit(child: ChildProcess): ChildProcess {
  process.once('exit', () => child.kill('SIGKILL'));
  return child;
}

/**
 * BENCH_HEAP_SNAPSHOT_DIR=<dir>: measured processes started with heapSnapshotEnv() write a heap snapshot
 * there when writeHeapSnapshot() asks (after the figures it would disturb are taken), to see where their
 * memory goes.
 */
const snapshotDir = process.env.BENCH_HEAP_SNAPSHOT_DIR;

export function heapSnapshotEnv(): NodeJS.ProcessEnv {
  return snapshotDir
    ? {
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapshotDir}`,
      }
    : {};
}

export async function writeHeapSnapshot(child: ChildProcess): Promise<void> {
  if (!snapshotDir) return;
  const dir = snapshotDir;
  const written = () =>
    readdirSync(dir)
      .filter((name) => name.endsWith('.heapsnapshot'))
      .map((name) => statSync(path.join(dir, name)).size);
  const before = written().length;
  child.kill('SIGUSR2');
  // The file grows while it is written; done once it has stopped growing for a few seconds.
  let last = -1;
  for (let stable = 0; stable < 3; ) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const sizes = written();
    const size = sizes.length > before ? (sizes.at(-1) ?? 0) : -1;
    stable = size > 0 && size === last ? stable + 1 : 0;
    last = size;
  }
}
