import { describe, expect, it } from 'vitest';
import { fillPlaceholders, readmeCommands } from './readme-commands.ts';

describe('readmeCommands', () => {
  const readme = [
    '# title',
    '## Other',
    '```sh',
    'echo other',
    '```',
    '## Quick start',
    'Prose.',
    '```sh',
    'helm install x chart \\',
    '  --set a=b',
    '# a comment',
    '',
    'kubectl get pods',
    '```',
  ].join('\n');

  it("returns the section's commands with continuation lines joined and comments left out", () => {
    expect(readmeCommands('Quick start', readme)).toEqual([
      'helm install x chart --set a=b',
      'kubectl get pods',
    ]);
  });

  it('names a section that is missing', () => {
    expect(() => readmeCommands('Install', readme)).toThrow(/## Install/);
  });

  it("holds the README's own quick start: a namespace, then the install", () => {
    const commands = readmeCommands('Quick start');
    const install = commands.findIndex((command) => command.startsWith('helm install '));
    const namespace = commands.findIndex((command) => command.startsWith('kubectl create namespace '));
    expect(namespace).toBeGreaterThanOrEqual(0);
    expect(install).toBeGreaterThan(namespace);
  });
});

describe('fillPlaceholders', () => {
  it('replaces each placeholder with its value', () => {
    expect(
      fillPlaceholders('x --from-literal=webhook=<access_token> <registry>/y', {
        access_token: 't',
        registry: 'r',
      }),
    ).toBe('x --from-literal=webhook=t r/y');
  });

  it('refuses a command with a placeholder it has no value for', () => {
    expect(() => fillPlaceholders('x <registry>/y', {})).toThrow(/<registry>/);
  });
});
