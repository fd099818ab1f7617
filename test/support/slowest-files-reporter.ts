import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ModuleDiagnostic, Reporter, SerializedError, TestModule, Vitest } from 'vitest/node';

export interface FileTime {
  /** Path from the repository root. */
  file: string;
  project: string;
  ms: number;
}

const HEADER = ['File', 'Project', 'Wall time'];

/**
 * The `count` slowest files, slowest first, as a markdown table whose columns are padded to one width,
 * so the same text reads as a table in a CI log and renders as one in the README.
 */
export function slowestFilesTable(files: readonly FileTime[], count = 10): string {
  const rows = [...files]
    .sort((a, b) => b.ms - a.ms)
    .slice(0, count)
    .map((f) => [f.file, f.project, formatDuration(f.ms)]);
  const widths = HEADER.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const isTime = (column: number) => column === HEADER.length - 1;
  const pad = (cell: string, i: number) => {
    const width = widths[i] ?? 0;
    return isTime(i) ? cell.padStart(width) : cell.padEnd(width);
  };
  const line = (cells: string[]) => `| ${cells.map(pad).join(' | ')} |`;
  const rule = line(widths.map((width, i) => (isTime(i) ? `${'-'.repeat(width - 1)}:` : '-'.repeat(width))));
  return [line(HEADER), rule, ...rows.map(line)].join('\n');
}

export interface Failure {
  /** Path from the repository root. */
  file: string;
  /** The test's or suite's full name; empty for an error of the file itself (its import, a hook at its top). */
  name: string;
  message: string;
}

const MESSAGE_LENGTH = 300;

/**
 * One line a failure, last in the run's output: a CI log is often read from its end, and the default
 * reporter's detailed failures are far above it by then.
 */
export function failuresList(failures: readonly Failure[]): string {
  const oneLine = (message: string) => {
    const flat = message.replace(/\s+/g, ' ').trim();
    return flat.length > MESSAGE_LENGTH ? `${flat.slice(0, MESSAGE_LENGTH - 1)}…` : flat;
  };
  return failures
    .map((f) => `FAILED ${f.file}${f.name ? ` > ${f.name}` : ''}: ${oneLine(f.message) || '(no message)'}`)
    .join('\n');
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Every phase vitest times for a file (its import diagnostics add up the same): the time a worker spent on it. */
function wallTime(d: ModuleDiagnostic): number {
  return d.environmentSetupDuration + d.prepareDuration + d.setupDuration + d.collectDuration + d.duration;
}

/** Failed tests, and errors of suites and files that failed outside a test (a hook, an import). */
function failuresOf(module: TestModule, file: string): Failure[] {
  const message = (errors: ReadonlyArray<SerializedError> | undefined) =>
    (errors ?? []).map((e) => e.message).join('; ');
  const failures: Failure[] =
    module.errors().length > 0 ? [{ file, name: '', message: message(module.errors()) }] : [];
  for (const suite of module.children.allSuites()) {
    if (suite.errors().length > 0)
      failures.push({ file, name: suite.fullName, message: message(suite.errors()) });
  }
  for (const test of module.children.allTests('failed')) {
    failures.push({ file, name: test.fullName, message: message(test.result().errors) });
  }
  return failures;
}

/**
 * After the default reporter's summary, prints the ten slowest test files, so every CI log shows where the
 * time went, then a line for each failure, and writes the table to .run/test-times.md for the README to quote.
 */
export default class SlowestFilesReporter implements Reporter {
  #vitest: Vitest | undefined;

  onInit(vitest: Vitest): void {
    this.#vitest = vitest;
  }

  onTestRunEnd(
    testModules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<SerializedError>,
  ): void {
    const vitest = this.#vitest;
    const ran = testModules.filter((m) => m.state() !== 'queued' && m.state() !== 'skipped');
    if (!vitest || ran.length === 0) return;
    const root = vitest.config.root;
    const table = slowestFilesTable(
      ran.map((m) => ({
        file: path.relative(root, m.moduleId),
        project: m.project.name,
        ms: wallTime(m.diagnostic()),
      })),
    );
    vitest.logger.log(
      `\n Slowest test files (wall time: environment, set-up, import and tests)\n\n${table}\n`,
    );
    const failures = [
      ...ran.flatMap((m) => failuresOf(m, path.relative(root, m.moduleId))),
      ...unhandledErrors.map((e) => ({ file: '(unhandled error)', name: '', message: e.message })),
    ];
    if (failures.length > 0) vitest.logger.log(`${failuresList(failures)}\n`);

    const projects = [...new Set(ran.map((m) => m.project.name))].join(', ');
    const out = path.join(root, '.run', 'test-times.md');
    try {
      mkdirSync(path.dirname(out), { recursive: true });
      writeFileSync(
        out,
        `# Slowest test files\n\n${ran.length} files of the projects ${projects}, run ${new Date().toISOString()}; ` +
          `wall time is a file's environment, set-up, import and tests.\n\n${table}\n`,
      );
    } catch (err) {
      // The table is a by-product: failing to keep it must not fail a run whose tests passed.
      vitest.logger.warn(`Could not write ${out}: ${(err as Error).message}`);
    }
  }
}
