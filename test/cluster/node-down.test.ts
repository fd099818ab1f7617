import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { startPrivateControlPlane } from '../support/private-control-plane.ts';
import { parseEnv } from './cluster-env.ts';

const run = promisify(execFile);
const clusterDir = path.dirname(new URL(import.meta.url).pathname);

// A cluster with a node of its own (the shared one keeps running for the other tests), then down.sh:
// nothing of it may stay on the machine.
describe('down.sh', () => {
  it('leaves no process, mount, network namespace, link or cgroup of the node behind', async (ctx) => {
    if (!inject('clusterRunDir')) return ctx.skip();
    const plane = await startPrivateControlPlane('node-down');
    try {
      await run('bash', [path.join(clusterDir, 'node-up.sh'), plane.runDir], { maxBuffer: 64 << 20 });
    } catch (err) {
      await plane.down();
      throw err;
    }
    const nodeDir = path.join(plane.runDir, 'node');
    const env = parseEnv(readFileSync(path.join(nodeDir, 'node.env'), 'utf8'));
    const pids = [
      ...readdirSync(nodeDir)
        .filter((f) => f.endsWith('.pid'))
        .map((f) => Number(readFileSync(path.join(nodeDir, f), 'utf8'))),
      ...readdirSync(plane.runDir)
        .filter((f) => f.endsWith('.pid'))
        .map((f) => Number(readFileSync(path.join(plane.runDir, f), 'utf8'))),
      ...cgroupPids(env.CGROUP),
    ];
    // The node was really there: containers' shims and the components are in its cgroup.
    expect(cgroupPids(env.CGROUP).length).toBeGreaterThan(5);
    expect(await netnsNames()).toContain(env.NETNS);
    expect(mountsUnder(plane.runDir).length).toBeGreaterThan(0);

    // The kubelet changes a few kernel settings; down.sh puts back what node-up.sh found.
    const saved = readFileSync(path.join(nodeDir, 'sysctl.saved'), 'utf8').trim().split('\n');

    await plane.down();

    const { stdout } = await run(
      'sysctl',
      saved.map((line) => line.split('=')[0]),
    );
    expect(
      stdout
        .trim()
        .split('\n')
        .map((line) => line.replace(' = ', '=')),
    ).toEqual(saved);

    expect(pids.filter(alive)).toEqual([]);
    expect(mountsUnder(plane.runDir)).toEqual([]);
    expect(await netnsNames()).not.toContain(env.NETNS);
    expect(existsSync(`/sys/class/net/${env.VETH}`)).toBe(false);
    expect(cgroupDirs(env.CGROUP)).toEqual([]);
    expect(existsSync(plane.runDir)).toBe(false);
  }, 600_000);
});

function cgroupDirs(cgroup: string): string[] {
  return readdirSync('/sys/fs/cgroup')
    .map((h) => path.join('/sys/fs/cgroup', h, cgroup))
    .filter((d) => existsSync(d));
}

function cgroupPids(cgroup: string): number[] {
  const pids = new Set<number>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(path.join(dir, entry.name));
    }
    for (const pid of readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n')) {
      if (pid) pids.add(Number(pid));
    }
  };
  for (const dir of cgroupDirs(cgroup)) walk(dir);
  return [...pids];
}

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((target) => target?.startsWith(`${dir}/`));
}

async function netnsNames(): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']);
  return stdout.split('\n').map((line) => line.split(' ')[0]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
