import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { heapFlags, MEMORY_LIMIT_ENV, memoryLimit, parseQuantity } from './heap.ts';

const GIB = 2 ** 30;

describe('parseQuantity', () => {
  it('reads Kubernetes memory quantities in bytes', () => {
    expect(parseQuantity('268435456')).toBe(268435456);
    expect(parseQuantity('256Mi')).toBe(256 * 2 ** 20);
    expect(parseQuantity('0.5Gi')).toBe(512 * 2 ** 20);
    expect(parseQuantity('1G')).toBe(1e9);
  });

  it('refuses what is not a quantity', () => {
    expect(parseQuantity('lots')).toBeUndefined();
    expect(parseQuantity('256MB')).toBeUndefined();
  });
});

describe('memoryLimit', () => {
  it('prefers the variable the chart sets from the container resources', () => {
    expect(memoryLimit({ [MEMORY_LIMIT_ENV]: '256Mi' }, 512 * 2 ** 20, 24 * GIB)).toBe(256 * 2 ** 20);
  });

  it('falls back to the cgroup limit when it is below the machine memory', () => {
    expect(memoryLimit({}, 192 * 2 ** 20, 24 * GIB)).toBe(192 * 2 ** 20);
  });

  it('has no limit when the cgroup is unlimited', () => {
    expect(memoryLimit({}, 2 ** 64, 24 * GIB)).toBeUndefined();
    expect(memoryLimit({}, 0, 24 * GIB)).toBeUndefined();
  });

  it('names the variable when its value is not a quantity', () => {
    expect(() => memoryLimit({ [MEMORY_LIMIT_ENV]: '256 megs' }, 0, GIB)).toThrow(MEMORY_LIMIT_ENV);
  });
});

describe('heapFlags', () => {
  it('bounds the old generation below the limit and keeps semi-spaces small', () => {
    expect(heapFlags(256 * 2 ** 20)).toEqual(['--max-old-space-size=153', '--max-semi-space-size=2']);
  });

  it('leaves a limit too small to split to V8', () => {
    expect(heapFlags(64 * 2 ** 20)).toEqual([]);
  });
});

// Each case starts a Node process (twice, with the re-execution): slow on a busy machine.
describe('fitHeapToMemoryLimit', { timeout: 60_000 }, () => {
  const script = `
    import { getHeapStatistics } from 'node:v8';
    import { fitHeapToMemoryLimit } from ${JSON.stringify(new URL('./heap.ts', import.meta.url).href)};
    fitHeapToMemoryLimit();
    console.log(JSON.stringify({ execArgv: process.execArgv, limitMib: getHeapStatistics().heap_size_limit / 2 ** 20 }));
  `;
  const run = (env: Record<string, string>, execArgv: string[] = []) => {
    const child = spawnSync(process.execPath, [...execArgv, '--input-type=module', '-e', script], {
      env: { ...process.env, NODE_OPTIONS: '', ...env },
      encoding: 'utf8',
    });
    expect(child.stderr).toBe('');
    return JSON.parse(child.stdout) as { execArgv: string[]; limitMib: number };
  };

  it('restarts the process with heap flags for the memory limit', () => {
    const { execArgv, limitMib } = run({ [MEMORY_LIMIT_ENV]: '256Mi' });
    expect(execArgv).toContain('--max-old-space-size=153');
    expect(limitMib).toBeLessThan(256);
  });

  it('keeps heap flags given by hand', () => {
    const { execArgv } = run({ [MEMORY_LIMIT_ENV]: '256Mi' }, ['--max-old-space-size=300']);
    expect(execArgv).toEqual(['--max-old-space-size=300', '--input-type=module', '-e', script]);
  });
});
