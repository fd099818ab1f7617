import { readFileSync } from 'node:fs';
import path from 'node:path';

const readmePath = path.resolve(import.meta.dirname, '../../README.md');

/**
 * The shell commands of the first `sh` block under the README heading `section`, one per command:
 * continuation lines joined, comments and blank lines left out. Tests run them as a reader would.
 */
export function readmeCommands(section: string, readme = readFileSync(readmePath, 'utf8')): string[] {
  const start = readme.indexOf(`\n## ${section}\n`);
  if (start < 0) throw new Error(`README has no section "## ${section}"`);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(start))?.[1];
  if (block === undefined) throw new Error(`README section "## ${section}" has no sh block`);
  return block
    .replaceAll(/\\\n\s*/g, '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/**
 * `command` with each `<placeholder>` replaced by its value; throws when one is left, since the shell
 * would read `<word>` as a redirection.
 */
export function fillPlaceholders(command: string, values: Record<string, string>): string {
  const filled = command.replaceAll(/<([a-z_]+)>/g, (whole, name: string) => values[name] ?? whole);
  const left = /<[a-z_]+>/.exec(filled);
  if (left) throw new Error(`no value for ${left[0]} in: ${command}`);
  return filled;
}
