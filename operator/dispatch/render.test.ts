import { afterAll, describe, expect, it } from 'vitest';
import { alarm } from '../../test/support/alarms.ts';
import { TemplatePool } from '../rules/template-pool.ts';
import { compileTemplates, formatProblem } from '../rules/templates.ts';
import type { Notification } from './notification.ts';
import { packDigest, renderNotification } from './render.ts';

const pool = new TemplatePool({ size: 1 });
afterAll(() => pool.close());
const render = (n: Notification) => renderNotification(n, pool);

function notification(
  alarms = [alarm('a')],
  message: Record<string, unknown> = { type: 'markdown' },
): Notification {
  return {
    rule: { namespace: 'ns', name: 'rule' },
    templates: compileTemplates({ message: message as never }),
    target: { service: 'svc', kind: 'Group', name: 'ops', names: ['ops'] },
    groupLabels: {},
    alarms,
    repeat: false,
  };
}

describe('renderNotification', () => {
  it('marks severity and resolution in the built-in title and lists labels', async () => {
    const firing = await render(
      notification([alarm('Disk full', { severity: 'critical', labels: { node: 'n3' } })]),
    );
    expect(firing).toMatchObject({ type: 'markdown', title: '【CRITICAL】Disk full' });
    expect(firing && 'text' in firing ? firing.text : '').toContain('node=n3');
    const resolved = await render(notification([alarm('Disk full', { state: 'resolved' })]));
    expect(resolved).toMatchObject({ title: '【RESOLVED】Disk full' });
  });

  it("renders the rule's Liquid templates, with mentions from the rule and from alarm labels", async () => {
    const n = notification([alarm('x', { labels: { owner: 'u42' } })], {
      type: 'markdown',
      title: '{{ alarm.title | upcase }} via {{ service.name }}',
      body: '{% for a in alarms %}{{ a.labels.owner }}{% endfor %}',
      mentions: { atAll: false, userIds: ['boss'], fromLabels: [{ key: 'owner', type: 'userId' }] },
    });
    expect(await render(n)).toMatchObject({
      title: 'X via svc',
      text: 'u42',
      mentions: { userIds: ['boss', 'u42'], mobiles: [], all: false },
    });
  });
});

describe('compileTemplates', () => {
  it('reports a template that does not parse with its field, line and column', async () => {
    const { problems } = compileTemplates({ message: { type: 'markdown', body: 'ok\n{% if %}' } as never });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ field: 'spec.message.body', line: 2 });
    expect(formatProblem(problems[0] as never)).toMatch(/^spec\.message\.body \(line 2, column \d+\): /);
  });
});

describe('packDigest', () => {
  it('lists every alarm on a line of its own and leaves what does not fit for the next message', async () => {
    const many = Array.from({ length: 1_000 }, (_, i) =>
      alarm(`storm alarm ${i}`, { labels: { i: String(i) } }),
    );
    const queue = [notification(many.slice(0, 10)), notification(many.slice(10))];
    const first = packDigest(queue);
    const taken = first.taken.flatMap((n) => n.alarms).length;
    const rest = first.rest.flatMap((n) => n.alarms).length;
    expect(taken + rest).toBe(1_000);
    expect(rest).toBeGreaterThan(0);
    expect(Buffer.byteLength(JSON.stringify(first.message))).toBeLessThan(20_000);
    const text = 'text' in first.message ? first.message.text : '';
    for (const a of first.taken.flatMap((n) => n.alarms)) expect(text).toContain(`${a.spec.title} ·`);
  });
});

describe('alarm content in messages', () => {
  const textOf = (m: Awaited<ReturnType<typeof renderNotification>> | undefined) =>
    m && 'text' in m ? m.text : '';

  it('cannot forge a 【RESOLVED】 line through a newline in its title', async () => {
    const forged = alarm('Disk full\n【RESOLVED】Disk full', { severity: 'critical' });
    const message = await render(notification([forged]));
    expect(message).toMatchObject({ title: '【CRITICAL】Disk full 【RESOLVED】Disk full' });
    expect(
      textOf(message)
        .split('\n')
        .filter((line) => line.includes('【RESOLVED】')),
    ).toEqual([
      '### 【CRITICAL】Disk full 【RESOLVED】Disk full',
      '#### 【CRITICAL】Disk full 【RESOLVED】Disk full',
    ]);
    const digest = packDigest([notification([forged])]).message;
    expect(
      textOf(digest)
        .split('\n')
        .some((line) => line.startsWith('【RESOLVED】')),
    ).toBe(false);
  });

  it('cannot add links, images or headings through its message, labels or annotations', async () => {
    const text = textOf(
      await render(
        notification([
          alarm('x', {
            message: 'see [here](http://evil.example)\n#### 【RESOLVED】x\n![img](http://evil.example/i.png)',
            labels: { team: '[db](http://evil.example)' },
            annotations: { runbook: '<http://evil.example>' },
          }),
        ]),
      ),
    );
    expect(text).not.toMatch(/(^|[^\\])\[[^\]]*\]\(/);
    expect(text).not.toMatch(/(^|[^\\])<http/);
    expect(text).toContain('> see \\[here\\](http://evil.example)');
    expect(text).toContain('> \\#### 【RESOLVED】x');
  });

  it('mentions only label values shaped like a userId or mobile', async () => {
    const n = notification(
      [
        alarm('a', { labels: { owner: 'u42', phone: '13800000000' } }),
        alarm('b', { labels: { owner: 'x\n【RESOLVED】 all', phone: 'call me' } }),
      ],
      {
        type: 'markdown',
        mentions: {
          atAll: false,
          fromLabels: [
            { key: 'owner', type: 'userId' },
            { key: 'phone', type: 'mobile' },
          ],
        },
      },
    );
    expect(await render(n)).toMatchObject({
      mentions: {
        userIds: ['u42'],
        mobiles: ['13800000000'],
        all: false,
      },
    });
  });
});
