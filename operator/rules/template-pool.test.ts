import { afterEach, describe, expect, it } from 'vitest';
import type { ParsedTemplate } from './liquid-engine.ts';
import { TemplatePool } from './template-pool.ts';

const template = (source: string): ParsedTemplate => ({ source, escaping: 'plain' });
/**
 * What a template costs is charged to its work budget; what the worker spends outside liquidjs is not,
 * and that is what the pool's clock and heap watch are for. A scope of a million objects takes the
 * worker seconds to receive, far longer than the limit below allows, and more heap than the other allows.
 */
const hugeScope = () => ({ items: Array.from({ length: 1_000_000 }, (_, i) => ({ i, name: `item-${i}` })) });

const pools: TemplatePool[] = [];
const poolOf = (options: ConstructorParameters<typeof TemplatePool>[0]) => {
  const pool = new TemplatePool(options);
  pools.push(pool);
  return pool;
};
// Building, sending and receiving the huge scope takes seconds on a loaded 2-core machine.
const SLOW = 60_000;
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
});

describe('TemplatePool', () => {
  it('renders in a worker, started on first use', async () => {
    const pool = poolOf({ size: 2 });
    expect(pool.workers).toBe(0);
    expect(
      await pool.render('ns', [template('{{ a }}-{{ b | upcase }}')], { a: 1, b: 'x' }, 'alarm'),
    ).toEqual([{ text: '1-X' }]);
    expect(pool.workers).toBe(1);
  });

  it(
    'terminates a worker whose render overruns its time, answers the job as over its limits, and renders the next job in a new worker',
    async () => {
      const pool = poolOf({ size: 1, killMs: 300, heapMiB: 4096 });
      const [overrun] = await pool.render('attacker', [template('{{ items | size }}')], hugeScope(), 'check');
      expect(overrun).toMatchObject({
        limit: true,
        error: expect.stringMatching(/did not finish within 300 ms/),
      });
      expect(await pool.render('victim', [template('{{ x }}')], { x: 'ok' }, 'alarm')).toEqual([
        { text: 'ok' },
      ]);
      expect(pool.workers).toBe(1);
    },
    SLOW,
  );

  it(
    'terminates a worker whose heap grows beyond its bound',
    async () => {
      const pool = poolOf({ size: 1, killMs: 600_000, heapMiB: 16 });
      const [grown] = await pool.render('attacker', [template('{{ items | size }}')], hugeScope(), 'check');
      expect(grown).toMatchObject({ limit: true });
      expect(await pool.render('victim', [template('{{ x }}')], { x: 'ok' }, 'alarm')).toEqual([
        { text: 'ok' },
      ]);
    },
    SLOW,
  );

  it("answers a template over its work budget as over its limits without losing the worker, and reports other errors as the template's own", async () => {
    const pool = poolOf({ size: 1 });
    const results = await pool.render(
      'ns',
      [
        template('{% for i in (1..10000000) %}{% endfor %}'),
        template('{{ a | where_exp: "x", "(((" }}'),
        template('ok'),
      ],
      { a: [1] },
      'alarm',
    );
    expect(results[0]).toMatchObject({
      limit: true,
      error: expect.stringMatching(/memory alloc limit exceeded/),
    });
    expect(results[1]).toMatchObject({ limit: false });
    expect(results[2]).toEqual({ text: 'ok' });
    expect(pool.workers).toBe(1);
  });

  it('serves namespaces in turn: a namespace with many jobs waiting delays another by one job', async () => {
    const pool = poolOf({ size: 1 });
    const answered: string[] = [];
    const job = (namespace: string, i: number) =>
      pool
        .render(namespace, [template('{{ i }}')], { i }, 'alarm')
        .then(() => answered.push(`${namespace}-${i}`));
    const jobs = [1, 2, 3, 4].map((i) => job('busy', i));
    jobs.push(job('quiet', 1));
    await Promise.all(jobs);
    expect(answered.indexOf('quiet-1')).toBeLessThanOrEqual(1);
  });

  it('rejects what is waiting when closed, and anything asked after', async () => {
    const pool = poolOf({ size: 1 });
    const waiting = expect(pool.render('ns', [template('{{ x }}')], { x: 1 }, 'alarm')).rejects.toThrow(
      /closed/,
    );
    await pool.close();
    await waiting;
    await expect(pool.render('ns', [template('x')], {}, 'alarm')).rejects.toThrow(/closed/);
  });
});
