import { describe, expect, it } from 'vitest';
import { sampleScope } from './template-scope.ts';
import { COOLDOWN_MS, compileTemplates, renderTemplate } from './templates.ts';

const sample = sampleScope('ns', 'rule');
const compile = (message: Record<string, unknown>) =>
  compileTemplates({ message: { type: 'markdown', ...message } as never }, sample);

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
  ])('reports %s as TemplateTooExpensive', (_name, body) => {
    const { problems, forSeverity } = compile({ body });
    expect(problems).toEqual([
      expect.objectContaining({ reason: 'TemplateTooExpensive', field: 'spec.message.body' }),
    ]);
    expect(problems[0]?.message).toMatch(
      /limit exceeded: the template needs more than its per-render budget/,
    );
    expect(forSeverity('info').body).toBeUndefined();
  });

  it('accepts a digest template over every alarm, label and annotation', () => {
    const { problems } = compile({
      body: '{% for a in alarms %}#### {{ a.title }}\n{% for l in a.labels %}{{ l[0] }}={{ l[1] }} {% endfor %}\n{% for x in a.annotations %}- {{ x[0] }}: {{ x[1] }}\n{% endfor %}{{ a.message }}\n{% endfor %}',
    });
    expect(problems).toEqual([]);
  });
});

describe('renderTemplate', () => {
  it("skips a namespace's templates for a cooldown after one exceeded its budget, and only that namespace's", () => {
    const expensive = compileTemplates({
      message: {
        type: 'markdown',
        body: '{% for a in alarms %}{% for b in alarms %}{% for c in alarms %}{% for d in alarms %}x{% endfor %}{% endfor %}{% endfor %}{% endfor %}',
      } as never,
    }).forSeverity('info').body;
    const cheap = compileTemplates({ message: { type: 'markdown', body: 'ok' } as never }).forSeverity(
      'info',
    ).body;
    const now = 1_000_000;
    expect(renderTemplate(expensive, sample, 'attacker', now)).toBeUndefined();
    expect(renderTemplate(cheap, sample, 'attacker', now + 1)).toBeUndefined();
    expect(renderTemplate(cheap, sample, 'victim', now + 1)).toBe('ok');
    expect(renderTemplate(cheap, sample, 'attacker', now + COOLDOWN_MS)).toBe('ok');
  });

  it('escapes what a markdown body outputs, unless the template says raw', () => {
    const body = compileTemplates({
      message: {
        type: 'markdown',
        body: '{{ alarm.message }} [runbook]({{ alarm.annotations.runbook_url | raw }})',
      } as never,
    }).forSeverity('info').body;
    const scope = {
      alarm: { message: '[x](http://evil)\n# fake', annotations: { runbook_url: 'https://r/x' } },
    };
    expect(renderTemplate(body, scope, 'ns')).toBe('\\[x\\](http://evil)\n\\# fake [runbook](https://r/x)');
  });

  it('does not escape titles, URLs or text bodies', () => {
    const t = compileTemplates({
      message: {
        type: 'text',
        title: '{{ alarm.title }}',
        body: '{{ alarm.title }}',
        url: '{{ alarm.title }}',
      } as never,
    }).forSeverity('info');
    const scope = { alarm: { title: '[a]' } };
    for (const field of [t.title, t.body, t.url]) expect(renderTemplate(field, scope, 'ns')).toBe('[a]');
  });
});
