import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Context, type Liquid, type Template, toValueSync } from 'liquidjs';
import { renderNotification } from '../../operator/dispatch/render.ts';
import { createLiquid, TEMPLATE_LIMITS } from '../../operator/rules/liquid-engine.ts';
import { TemplatePool } from '../../operator/rules/template-pool.ts';
import { sampleScope } from '../../operator/rules/template-scope.ts';
import { compileTemplates } from '../../operator/rules/templates.ts';
import { alarm } from '../support/alarms.ts';
import { HOSTILE_TEMPLATES } from '../support/hostile-templates.ts';

/**
 * What templates cost, to size TEMPLATE_LIMITS: the work units (operator/rules/templates.ts) and CPU
 * time of ordinary templates on a large notification, and what the most expensive templates a user can
 * write cost under the limits (time until refused, heap grown), rendered in this thread to see their own
 * cost; then what a notification's render costs through the template pool (latency, and the event
 * loop's longest stall while the hostile templates are checked). No cluster needed.
 *
 * usage: node --expose-gc test/bench/templates.bench.ts <results.md>
 */

const resultsPath = process.argv[2];
if (!resultsPath) {
  process.stderr.write('usage: node --expose-gc test/bench/templates.bench.ts <results.md>\n');
  process.exit(2);
}

const big = { ...(sampleScope('bench', 'rule') as { alarms: unknown[] }) };
// A large digest: the sample's 20 alarms repeated to 100.
big.alarms = Array.from({ length: 100 }, (_, i) => big.alarms[i % big.alarms.length]);
const scope = { ...big, alarm: big.alarms[0] };

const ordinary: Record<string, string> = {
  'built-in-like body, one alarm':
    '### {{ alarm.title }}\n- {{ alarm.severity }} since {{ alarm.startsAt }}\n{% for l in alarm.labels %}{{ l[0] }}={{ l[1] }} {% endfor %}\n\n{{ alarm.message }}',
  'digest over 100 alarms with labels and annotations':
    '{% for a in alarms %}#### {{ a.title | upcase }}\n{% for l in a.labels %}{{ l[0] }}={{ l[1] }}, {% endfor %}\n{% for x in a.annotations %}- {{ x[0] }}: {{ x[1] }}\n{% endfor %}{{ a.message | truncate: 200 }}\n{% endfor %}',
  'sorted, grouped 100 alarms':
    '{% assign sorted = alarms | sort: "severity" %}{% for a in sorted %}{% if a.severity == "critical" %}**{{ a.title }}**{% else %}{{ a.title }}{% endif %} {{ a.labels | json | size }}\n{% endfor %}',
};

const hostile: Record<string, string> = {
  'a range of 10 million': '{% for i in (1..10000000) %}{% endfor %}',
  'three nested loops over an assigned range':
    '{% assign r = (1..3000) %}{% for i in r %}{% for j in r %}{% for k in r %}{{ alarm.message }}{% endfor %}{% endfor %}{% endfor %}',
  'a capture growing in a loop':
    '{% assign r = (1..3000) %}{% capture a %}{% for i in r %}{% for j in r %}{{ alarm.message }}{% endfor %}{% endfor %}{% endcapture %}{{ a | size }}',
  'a 15 KB literal in nested loops': `{% assign r = (1..3000) %}{% for i in r %}{% for j in r %}${'y'.repeat(15_000)}{% endfor %}{% endfor %}`,
  'a string doubled 40 times':
    '{% assign s = alarm.message %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}{{ s | size }}',
  'reverse and join of a large array in a loop':
    '{% assign r = (1..190000) %}{% for i in (1..1000) %}{{ r | reverse | join: "," | size }}{% endfor %}',
  'find_exp nested in find_exp (95 characters)': HOSTILE_TEMPLATES.nestedFindExp,
  'has nested in find_exp (61 characters)': HOSTILE_TEMPLATES.findExpOverHas,
};

const engine = createLiquid('markdown');
interface InThread {
  liquid: Liquid;
  templates: Template[];
}
function parsed(source: string): InThread {
  return { liquid: engine, templates: engine.parse(source) };
}

/** Units and CPU time of one render without limits (median of `runs`). */
function unlimited(template: InThread, runs: number): { units: number; ms: number } {
  const times: number[] = [];
  let units = 0;
  for (let i = 0; i < runs; i++) {
    const ctx = new Context(scope, template.liquid.options, {
      memoryLimit: Number.MAX_SAFE_INTEGER,
      renderLimit: 1e9,
    });
    const start = performance.now();
    toValueSync(template.liquid.renderer.renderTemplates(template.templates, ctx));
    times.push(performance.now() - start);
    units = (ctx.memoryLimit as unknown as { base: number }).base;
  }
  times.sort((a, b) => a - b);
  return { units, ms: times[Math.floor(times.length / 2)] as number };
}

/** One render under the limits: how long until it ends, the heap it grew, and how it ended. */
function limited(template: InThread): { ms: number; heapMiB: number; outcome: string } {
  globalThis.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const start = performance.now();
  let outcome = 'rendered';
  try {
    template.liquid.renderSync(template.templates, scope);
  } catch (err) {
    outcome = (err instanceof Error ? err.message : String(err)).split(',')[0] as string;
  }
  const ms = performance.now() - start;
  return { ms, heapMiB: (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20, outcome };
}

const rows: string[] = [];
for (const [name, source] of Object.entries(ordinary)) {
  const template = parsed(source);
  unlimited(template, 3);
  const { units, ms } = unlimited(template, 9);
  const under = limited(template);
  rows.push(`| ${name} | ${units.toLocaleString('en')} | ${ms.toFixed(1)} ms | ${under.outcome} |`);
}
const worst: string[] = [];
for (const [name, source] of Object.entries(hostile)) {
  const r = limited(parsed(source));
  worst.push(`| ${name} | ${r.outcome} | ${r.ms.toFixed(1)} ms | ${r.heapMiB.toFixed(1)} MiB |`);
}
// Units per millisecond of a loop that only counts (the cheapest work per unit): how long the budget lasts.
const counting = unlimited(
  parsed('{% assign r = (1..50000) %}{% for i in r %}{% for j in (1..2) %}{% endfor %}{% endfor %}'),
  5,
);

/** Latency of renderNotification through the pool, and the event loop's longest stall meanwhile. */
const pool = new TemplatePool({ size: 2 });
const notificationOf = (alarms: number, body: string) => ({
  rule: { namespace: 'bench', name: 'rule' },
  templates: compileTemplates({ message: { type: 'markdown', title: '{{ alarm.title }}', body } as never }),
  target: { service: 's', kind: 'Group' as const, name: 'g', names: ['g'] },
  groupLabels: {},
  repeat: false,
  alarms: Array.from({ length: alarms }, (_, i) =>
    alarm(`alarm ${i}`, {
      labels: Object.fromEntries(Array.from({ length: 8 }, (_, j) => [`l${j}`, `v${i}-${j}`])),
      message: 'A message line.\n'.repeat(8),
    }),
  ),
});
const latencies: string[] = [];
const notifications = {
  'one alarm, built-in-like body': notificationOf(1, ordinary['built-in-like body, one alarm'] as string),
  'digest template over 100 alarms': notificationOf(
    100,
    '{% for a in alarms %}#### {{ a.title | upcase }}\n{% for l in a.labels %}{{ l[0] }}={{ l[1] }}, {% endfor %}\n{{ a.message | truncate: 200 }}\n{% endfor %}',
  ),
};
for (const [name, n] of Object.entries(notifications)) {
  const times: number[] = [];
  for (let i = 0; i < 500; i++) {
    const start = performance.now();
    await renderNotification(n, pool);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  latencies.push(
    `| ${name} | ${(times[250] as number).toFixed(2)} ms | ${(times[495] as number).toFixed(2)} ms |`,
  );
}
const hostileThroughPool: string[] = [];
for (const [name, source] of Object.entries(HOSTILE_TEMPLATES)) {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const start = performance.now();
  const problems = await compileTemplates({ message: { type: 'markdown', body: source } as never }).check(
    pool,
    'bench',
    sampleScope('bench', 'rule'),
  );
  const ms = performance.now() - start;
  delay.disable();
  hostileThroughPool.push(
    `| ${name} | ${problems[0]?.reason ?? 'accepted'} | ${ms.toFixed(0)} ms | ${(delay.max / 1e6).toFixed(1)} ms |`,
  );
}
await pool.close();

const report = `# Template benchmark

What users' Liquid templates cost, to size \`TEMPLATE_LIMITS\` in operator/rules/templates.ts
(${TEMPLATE_LIMITS.work.toLocaleString('en')} units of work, ${TEMPLATE_LIMITS.renderMs} ms, ${TEMPLATE_LIMITS.parseChars} characters per template).

- **Machine:** ${cpus().length} cores (${cpus()[0]?.model.trim()}), ${Math.round(totalmem() / 2 ** 20)} MiB RAM, Node ${process.versions.node}; other work shares the cores (load average ${loadavg()[0]?.toFixed(1)} at the end).
- **Scope:** a notification of 100 alarms, each with 8 labels, 2 annotations and an 8-line message.
- **Units:** liquidjs' memory units (elements and characters allocated) plus one per template node rendered
  and one per character an output tag writes.

## Ordinary templates (no limits; median of 9 renders)

| template | units | CPU time | under the limits |
|---|---|---|---|
${rows.join('\n')}

## The most expensive templates we could write (under the limits)

| template | outcome | time until refused | heap grown |
|---|---|---|---|
${worst.join('\n')}

A loop that only counts (the least work per unit) spends ${(counting.units / counting.ms).toFixed(0)} units per ms here, so the work
budget lasts about ${(TEMPLATE_LIMITS.work / (counting.units / counting.ms)).toFixed(0)} ms; the clock (${TEMPLATE_LIMITS.renderMs} ms, checked between template nodes) ends a
render first only on a machine slower or busier than that. Either way the render is refused, and its
namespace's templates rest for a minute.

## Through the template pool (2 workers)

Notifications are rendered in worker threads (operator/rules/template-pool.ts); the event loop only
clones the scope there and the text back.

| notification | p50 | p99 |
|---|---|---|
${latencies.join('\n')}

The two hostile templates of issue 27 at the rule check, and the event loop's longest stall meanwhile:

| template | verdict | time until answered | longest stall of the loop |
|---|---|---|---|
${hostileThroughPool.join('\n')}

What the workers add to the process's resident memory: test/bench/template-pool-memory.ts.
`;
writeFileSync(resultsPath, report);
process.stdout.write(report);
