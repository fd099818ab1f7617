import { afterAll, describe, expect, it } from 'vitest';
import { HOSTILE_TEMPLATES } from '../../test/support/hostile-templates.ts';
import type { ParsedTemplate } from './liquid-engine.ts';
import { TemplatePool } from './template-pool.ts';
import { sampleScope } from './template-scope.ts';
import { COOLDOWN_MS, compileTemplates, renderTemplates } from './templates.ts';

const sample = sampleScope('ns', 'rule');
const pool = new TemplatePool({ size: 2 });
afterAll(() => pool.close());

const compile = (message: Record<string, unknown>) =>
  compileTemplates({ message: { type: 'markdown', ...message } as never });
const body = (source: string) => compile({ body: source }).forSeverity('info').body as ParsedTemplate;
const render = async (template: ParsedTemplate | undefined, scope: object, namespace: string, at = 0) =>
  (await renderTemplates(pool, [template], scope, namespace, () => at))[0];

describe('compileTemplates', () => {
  it.each(['include', 'render', 'layout'])(
    'refuses the %s tag, which would read files, as TemplateInvalid',
    (tag) => {
      const { problems, forSeverity } = compile({ body: `{% ${tag} 'package.json' %}` });
      expect(problems).toEqual([
        expect.objectContaining({ reason: 'TemplateInvalid', field: 'spec.message.body' }),
      ]);
      expect(problems[0]?.message).toContain(`the ${tag} tag is not available`);
      expect(forSeverity('info').body).toBeUndefined();
    },
  );
});

describe('the check of a rule on the sample', () => {
  it.each([
    ['a range of ten million', '{% for i in (1..10000000) %}{% endfor %}'],
    [
      'nested loops over an assigned array (liquidjs charges no memory for them)',
      '{% assign r = (1..3000) %}{% for i in r %}{% for j in r %}{% for k in r %}x{% endfor %}{% endfor %}{% endfor %}',
    ],
    [
      'literal text repeated in loops',
      `{% assign r = (1..3000) %}{% for i in r %}{% for j in r %}${'y'.repeat(10_000)}{% endfor %}{% endfor %}`,
    ],
    [
      'a string doubled in a loop',
      '{% assign s = "xx" %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}',
    ],
    ['find_exp nested in find_exp (95 characters)', HOSTILE_TEMPLATES.nestedFindExp],
    ['has nested in find_exp (61 characters)', HOSTILE_TEMPLATES.findExpOverHas],
    [
      'contains over an array in a loop',
      '{% assign a = (1..40000) %}{% for i in a %}{% if a contains i %}{% endif %}{% endfor %}',
    ],
    [
      'an array compared with itself per element',
      '{% assign a = (1..20000) %}{{ a | find_exp: "i", "a == a" }}',
    ],
    ['sum nested in where_exp', '{% assign a = (1..3000) %}{{ a | where_exp: "i", "a | sum" | size }}'],
  ])('reports %s as TemplateTooExpensive', async (_name, source) => {
    const compiled = compile({ body: source });
    expect(compiled.problems).toEqual([]);
    const problems = await compiled.check(pool, 'ns', sample);
    expect(problems).toEqual([
      expect.objectContaining({ reason: 'TemplateTooExpensive', field: 'spec.message.body' }),
    ]);
    expect(problems[0]?.message).toMatch(
      /limit exceeded: the template needs more than its per-render budget/,
    );
  });

  it('accepts a digest template over every alarm, label and annotation, searching and sorting them', async () => {
    const compiled = compile({
      body: '{% assign critical = alarms | where_exp: "a", "a.severity == \'critical\'" %}{% for a in alarms %}#### {{ a.title }}\n{% for l in a.labels %}{{ l[0] }}={{ l[1] }} {% endfor %}\n{% for x in a.annotations %}- {{ x[0] }}: {{ x[1] }}\n{% endfor %}{{ a.message }}\n{% endfor %}{{ alarms | sort: "severity" | map: "title" | join: ", " }}{{ alarms | find_exp: "a", "a.labels.label0 contains \'value\'" | map: "title" }}{{ critical | size }}',
    });
    expect(await compiled.check(pool, 'ns', sample)).toEqual([]);
  });

  it('names only the expensive field, and keeps the others', async () => {
    const compiled = compile({ title: '{{ alarm.title }}', body: HOSTILE_TEMPLATES.findExpOverHas });
    const problems = await compiled.check(pool, 'ns', sample);
    expect(problems.map((p) => p.field)).toEqual(['spec.message.body']);
  });
});

describe('renderTemplates', () => {
  it("skips a namespace's templates for a cooldown after one exceeded its budget, and only that namespace's", async () => {
    const expensive = body(
      '{% for a in alarms %}{% for b in alarms %}{% for c in alarms %}{% for d in alarms %}x{% endfor %}{% endfor %}{% endfor %}{% endfor %}',
    );
    const cheap = body('ok');
    const now = 1_000_000;
    expect(await render(expensive, sample, 'attacker', now)).toBeUndefined();
    expect(await render(cheap, sample, 'attacker', now + 1)).toBeUndefined();
    expect(await render(cheap, sample, 'victim', now + 1)).toBe('ok');
    expect(await render(cheap, sample, 'attacker', now + COOLDOWN_MS)).toBe('ok');
  });

  it('renders a notification whose template searches within its budget, and falls back for a hostile one', async () => {
    expect(
      await render(
        body('{{ alarms | find_exp: "a", "a.severity == \'info\'" | map: "title" }}'),
        sample,
        'a',
      ),
    ).toBe('Sample alarm 2');
    expect(await render(body(HOSTILE_TEMPLATES.nestedFindExp), sample, 'b')).toBeUndefined();
  });

  it('escapes what a markdown body outputs, unless the template says raw', async () => {
    const template = body('{{ alarm.message }} [runbook]({{ alarm.annotations.runbook_url | raw }})');
    const scope = {
      alarm: { message: '[x](http://evil)\n# fake', annotations: { runbook_url: 'https://r/x' } },
    };
    expect(await render(template, scope, 'ns')).toBe('\\[x\\](http://evil)\n\\# fake [runbook](https://r/x)');
  });

  it('does not escape titles, URLs or text bodies', async () => {
    const t = compileTemplates({
      message: {
        type: 'text',
        title: '{{ alarm.title }}',
        body: '{{ alarm.title }}',
        url: '{{ alarm.title }}',
      } as never,
    }).forSeverity('info');
    const scope = { alarm: { title: '[a]' } };
    expect(await renderTemplates(pool, [t.title, t.body, t.url], scope, 'ns')).toEqual(['[a]', '[a]', '[a]']);
  });
});
