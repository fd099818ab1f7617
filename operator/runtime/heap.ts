import { totalmem } from 'node:os';

/**
 * V8 heap limits that fit the container. V8 sizes its heap from the machine (on a large node: an old
 * generation of up to 4 GiB and 32 MiB semi-spaces), collects lazily while far from that limit, and so
 * grows past a small container limit and is OOM-killed instead of collecting. The limits are derived
 * from the container's memory limit: the DINGTALK_OPERATOR_MEMORY_LIMIT variable when set (for a process
 * run outside a container) or else the cgroup's limit (in a pod, its resources.limits.memory), and applied
 * by re-executing the process with the flags before anything else is loaded. Heap flags given by hand (in
 * the command line or NODE_OPTIONS) win.
 */

export const MEMORY_LIMIT_ENV = 'DINGTALK_OPERATOR_MEMORY_LIMIT';
/** Set on the re-executed process, so it does not re-execute again. */
const APPLIED_ENV = 'DINGTALK_OPERATOR_HEAP_APPLIED';
const MIB = 2 ** 20;
const QUANTITY = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/;
const UNITS: Record<string, number> = {
  '': 1,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
};

/** Below this the heap flags would starve the process; such a limit is left to V8's defaults. */
const MIN_LIMIT_MIB = 96;
/**
 * Share of the limit for the old generation. The rest holds what is not heap: code, module sources,
 * buffers and the allocator's own (about 100 MiB for this program, measured in bench/results/).
 */
const OLD_SPACE_SHARE = 0.6;

/** Bytes of a Kubernetes memory quantity (268435456, 256Mi, 1G); undefined when not one. */
export function parseQuantity(text: string): number | undefined {
  const match = QUANTITY.exec(text.trim());
  if (!match) return undefined;
  return Math.floor(Number(match[1]) * (UNITS[match[2] ?? ''] as number));
}

/**
 * The memory limit in bytes: the variable when set, else the cgroup's limit when it is below the
 * machine's memory (an unlimited cgroup reports a huge number or 0).
 */
export function memoryLimit(
  env: Record<string, string | undefined>,
  constrained: number,
  total: number,
): number | undefined {
  const configured = env[MEMORY_LIMIT_ENV];
  if (configured) {
    const bytes = parseQuantity(configured);
    if (bytes === undefined) {
      throw new Error(`${MEMORY_LIMIT_ENV}="${configured}" is not a memory quantity such as 256Mi`);
    }
    return bytes;
  }
  return constrained > 0 && constrained < total ? constrained : undefined;
}

/** V8 flags for a memory limit: a bounded old generation and small semi-spaces. */
export function heapFlags(limitBytes: number): string[] {
  const limitMib = Math.floor(limitBytes / MIB);
  if (limitMib < MIN_LIMIT_MIB) return [];
  // Semi-spaces of 2 MiB keep the young generation's footprint small; scavenges stay cheap at that size.
  const semiSpaceMib = limitMib >= 1024 ? 8 : 2;
  return [
    `--max-old-space-size=${Math.floor(limitMib * OLD_SPACE_SHARE)}`,
    `--max-semi-space-size=${semiSpaceMib}`,
  ];
}

function setByHand(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  const given = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)];
  return given.some((flag) => /^--(max-old-space-size|max-semi-space-size)\b/.test(flag));
}

/**
 * Re-executes this process with heap flags for its memory limit, when there is a limit and no flags
 * were given by hand. Returns (having done nothing) otherwise.
 */
export function fitHeapToMemoryLimit(): void {
  const env = process.env;
  if (env[APPLIED_ENV] || typeof process.execve !== 'function') return;
  if (setByHand(process.execArgv, env.NODE_OPTIONS)) return;
  const limit = memoryLimit(env, process.constrainedMemory(), totalmem());
  const flags = limit === undefined ? [] : heapFlags(limit);
  if (flags.length === 0) return;
  process.execve(
    process.execPath,
    [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)],
    {
      ...env,
      [APPLIED_ENV]: flags.join(' '),
    },
  );
}
