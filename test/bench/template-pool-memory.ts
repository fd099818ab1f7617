import { renderNotification } from '../../operator/dispatch/render.ts';
import { TemplatePool } from '../../operator/rules/template-pool.ts';
import { compileTemplates } from '../../operator/rules/templates.ts';
import { alarm } from '../support/alarms.ts';

/**
 * Resident memory the template pool adds to a process: before any render, then with both workers
 * started and after 2,000 renders of a 100-alarm digest template spread over them. Run it with the heap
 * flags the chart's limit gives (heap.ts), as they apply to the workers too:
 *
 *   NODE_COMPILE_CACHE=<dir> node --expose-gc --max-old-space-size=230 --max-semi-space-size=2 \
 *     test/bench/template-pool-memory.ts [workers]
 *
 * The image runs with a compile cache (Dockerfile); without one each worker strips and compiles its
 * modules again, which costs it about 8 MiB more.
 */
const size = Number(process.argv[2] ?? 2);
const rss = () => process.memoryUsage().rss / 2 ** 20;
const settle = async () => {
  globalThis.gc?.();
  await new Promise((resolve) => setTimeout(resolve, 500));
};
const notification = {
  rule: { namespace: 'bench', name: 'rule' },
  templates: compileTemplates({
    message: {
      type: 'markdown',
      title: '{{ alarm.title }}',
      body: '{% for a in alarms %}#### {{ a.title | upcase }}\n{% for l in a.labels %}{{ l[0] }}={{ l[1] }}, {% endfor %}\n{{ a.message | truncate: 200 }}\n{% endfor %}',
    } as never,
  }),
  target: { service: 's', kind: 'Group' as const, name: 'g', names: ['g'] },
  groupLabels: {},
  repeat: false,
  alarms: Array.from({ length: 100 }, (_, i) =>
    alarm(`alarm ${i}`, {
      labels: Object.fromEntries(Array.from({ length: 8 }, (_, j) => [`l${j}`, `v${i}-${j}`])),
      message: 'A message line.\n'.repeat(8),
    }),
  ),
};
await settle();
const before = rss();
const pool = new TemplatePool({ size });
// Two at a time, so both workers start.
await Promise.all([renderNotification(notification, pool), renderNotification(notification, pool)]);
await settle();
const started = rss();
for (let i = 0; i < 1_000; i++) {
  await Promise.all([renderNotification(notification, pool), renderNotification(notification, pool)]);
}
await settle();
const after = rss();
process.stdout.write(
  `workers ${pool.workers}; RSS before the pool ${before.toFixed(0)} MiB, workers started ${started.toFixed(0)} MiB (+${(started - before).toFixed(0)}), after 2,000 renders ${after.toFixed(0)} MiB (+${(after - before).toFixed(0)})\n`,
);
await pool.close();
