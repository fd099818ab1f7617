import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import packageJson from '../../package.json' with { type: 'json' };
import packageLock from '../../package-lock.json' with { type: 'json' };

const run = promisify(execFile);
const imageDir = import.meta.dirname;
const bah = async (...args: string[]) =>
  (await run('bash', [path.join(imageDir, 'bah.sh'), ...args], { maxBuffer: 64 << 20 })).stdout.trim();

// The operator's image as build.sh builds it from the Dockerfile (a cache hit after `make images`).
let images: Record<string, string>;
let container: string;
let root: string;

beforeAll(async () => {
  const { stdout } = await run('bash', [path.join(imageDir, 'build.sh')], { maxBuffer: 64 << 20 });
  images = Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((line) => line.split('=', 2) as [string, string]),
  );
  container = await bah('from', '--quiet', '--pull-never', images.OPERATOR_IMAGE as string);
  root = await bah('mount', container);
}, 1_800_000);

afterAll(async () => {
  if (container) await bah('rm', container);
});

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? walk(full) : [full];
  });
}

describe("the operator's image", () => {
  it('starts from the compiled code cached at build time, which its user can read but not change', async () => {
    const { stderr } = await run(
      'bash',
      [
        path.join(imageDir, 'bah.sh'),
        'run',
        '--isolation',
        'chroot',
        '--user',
        '1000:1000',
        '--env',
        'NODE_DEBUG_NATIVE=COMPILE_CACHE',
        container,
        '--',
        'node',
        'operator/cli.ts',
        'crds',
      ],
      { maxBuffer: 64 << 20 },
    );
    expect(stderr).toMatch(/reading cache from .* for \w+ file:\/\/\/app\/operator\/cli\.ts\.\.\..* success/);
    // Modules outside the cache (crds loads a few) are compiled in memory: writing them is refused.
    expect(stderr).not.toMatch(/reading cache from .*permission denied/);
  });

  it('runs `dingtalk-operator run` as uid 1000', async () => {
    const config = JSON.parse(await bah('inspect', '--type', 'image', images.OPERATOR_IMAGE as string)).OCIv1
      .config;
    expect(config.User).toBe('1000:1000');
    expect(config.Entrypoint).toEqual(['node', 'operator/cli.ts']);
    expect(config.Cmd).toEqual(['run']);
  });

  it('holds the operator sources without tests or fixtures', () => {
    const files = walk(path.join(root, 'app/operator')).map((file) =>
      path.relative(path.join(root, 'app'), file),
    );
    expect(files).toContain('operator/cli.ts');
    expect(files.filter((file) => file.endsWith('.test.ts') || file.includes('fixture'))).toEqual([]);
    expect(readdirSync(path.join(root, 'app')).sort()).toEqual([
      '.compile-cache',
      'node_modules',
      'operator',
      'package.json',
    ]);
  });

  it('holds the production dependencies only: no dev or optional ones, no npm', () => {
    const installed = new Set(
      readdirSync(path.join(root, 'app/node_modules')).flatMap((name) =>
        name.startsWith('@')
          ? readdirSync(path.join(root, 'app/node_modules', name)).map((n) => `${name}/${n}`)
          : [name],
      ),
    );
    for (const name of Object.keys(packageJson.dependencies)) expect(installed, name).toContain(name);
    // A dev dependency that a production one needs too (ws, which the emulator and client-node both use) is
    // marked neither dev nor optional in the lockfile, and belongs in the image.
    const lockEntries = packageLock.packages as Record<string, { dev?: boolean; optional?: boolean }>;
    const excluded = [
      ...Object.keys(packageJson.devDependencies),
      ...Object.keys(packageJson.optionalDependencies),
    ].filter(
      (name) => lockEntries[`node_modules/${name}`]?.dev || lockEntries[`node_modules/${name}`]?.optional,
    );
    expect(excluded).toContain('vitest');
    expect(excluded.filter((name) => installed.has(name))).toEqual([]);
    expect(() => statSync(path.join(root, 'usr/local/bin/npm'))).toThrow();
    const unread = walk(path.join(root, 'app/node_modules')).filter((file) =>
      /\.(map|d\.[mc]?ts)$/.test(file),
    );
    expect(unread).toEqual([]);
  });

  it('is built on node:24-slim unless the BASE_IMAGE build argument says otherwise', () => {
    const dockerfile = readFileSync(path.join(imageDir, '../../Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^ARG BASE_IMAGE=node:24-slim$/m);
    expect(dockerfile.match(/^FROM .*/gm)).toEqual([
      `FROM ${'$'}{BASE_IMAGE} AS dependencies`,
      `FROM ${'$'}{BASE_IMAGE}`,
    ]);
  });

  it('leaves the uid it runs as nothing it could write to in /app', () => {
    const writable = walk(path.join(root, 'app')).filter((file) => {
      const stat = statSync(file);
      return stat.uid === 1000 || (stat.mode & 0o002) !== 0;
    });
    expect(writable).toEqual([]);
  });

  it('starts its CLI as uid 1000 with the production dependencies alone', async () => {
    const crds = await bah(
      'run',
      '--isolation',
      'chroot',
      '--user',
      '1000:1000',
      container,
      '--',
      'node',
      'operator/cli.ts',
      'crds',
    );
    expect(crds).toContain('kind: CustomResourceDefinition');
    expect(crds).toContain('name: alarmevents.dingtalk.alarming.io');
  });
});
