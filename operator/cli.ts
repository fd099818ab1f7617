#!/usr/bin/env node
import { fitHeapToMemoryLimit } from './runtime/heap.ts';

// One binary, several jobs: the image runs `run` (controllers) or `receiver` (HTTP sidecar).
const commands: Record<
  string,
  { summary: string; load: () => Promise<{ main: (args: string[]) => Promise<void> }> }
> = {
  run: { summary: 'run the controllers and the dispatcher', load: () => import('./commands/run.ts') },
  receiver: { summary: 'serve the HTTP alarm receiver', load: () => import('./commands/receiver.ts') },
  crds: { summary: 'print the CustomResourceDefinitions as YAML', load: () => import('./commands/crds.ts') },
  'import-members': {
    summary: 'print a membersFrom ConfigMap from a contacts export',
    load: () => import('./commands/import-members.ts'),
  },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(16)}${c.summary}`);
  return `usage: dingtalk-operator <command> [flags]\n\ncommands:\n${lines.join('\n')}\n`;
}

const [name, ...args] = process.argv.slice(2);
const command = name ? commands[name] : undefined;
if (!command) {
  process.stderr.write(
    name && name !== 'help' && name !== '--help' ? `unknown command "${name}"\n\n${usage()}` : usage(),
  );
  process.exit(name && name !== 'help' && name !== '--help' ? 2 : 0);
}
// The long-running commands size V8's heap to the container first (this may re-execute the process).
if (name === 'run' || name === 'receiver') fitHeapToMemoryLimit();
await (await command.load()).main(args);
