import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { troubleshootingGuide } from '../../charts/reference/troubleshooting.ts';
import { reasonGuide } from '../../operator/api/reason-guide.ts';
import { knownDingTalkErrors } from '../../operator/dingtalk/errcode-catalogue.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');
const readme = read('README.md');
const pages = readdirSync(path.join(repoRoot, 'docs'))
  .filter((name) => name.endsWith('.md'))
  .map((name) => `docs/${name}`)
  .sort();

/** Lines outside fenced code blocks, with their numbers. */
function proseLines(text: string): { line: string; number: number }[] {
  let fenced = false;
  return text.split('\n').flatMap((line, index) => {
    if (line.startsWith('```')) fenced = !fenced;
    return fenced ? [] : [{ line, number: index + 1 }];
  });
}

/** Relative link targets (files, without anchors) of a Markdown page. */
function relativeLinks(text: string): string[] {
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((match) => match[1] as string)
    .filter((target) => !/^[a-z]+:/.test(target) && !target.startsWith('#'))
    .map((target) => target.split('#')[0] as string);
}

/** The anchors GitHub gives a page's headings. */
function headingAnchors(text: string): Set<string> {
  return new Set(
    proseLines(text)
      .filter(({ line }) => /^#+ /.test(line))
      .map(({ line }) =>
        line
          .replace(/^#+ /, '')
          .toLowerCase()
          .replaceAll(/[^\p{L}\p{N} _-]/gu, '')
          .replaceAll(' ', '-'),
      ),
  );
}

describe('the README', () => {
  it('stays short enough to read in five minutes', () => {
    expect(readme.trimEnd().split('\n').length).toBeLessThanOrEqual(150);
  });

  it('links every page of docs/', () => {
    const linked = new Set(relativeLinks(readme).map((target) => path.normalize(target)));
    expect(pages.filter((page) => !linked.has(page))).toEqual([]);
  });
});

describe.each(['README.md', ...pages])('%s', (file) => {
  const text = read(file);

  it('has no line over 120 characters outside tables', () => {
    const long = text
      .split('\n')
      .map((line, index) => ({ line, number: index + 1 }))
      .filter(({ line }) => line.length > 120 && !line.startsWith('|'));
    expect(long.map(({ number, line }) => `${number}: ${line.slice(0, 60)}…`)).toEqual([]);
  });

  it('links only to files that exist', () => {
    const dir = path.dirname(path.join(repoRoot, file));
    const missing = relativeLinks(text).filter((target) => {
      try {
        readFileSync(path.resolve(dir, target));
        return false;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code !== 'EISDIR';
      }
    });
    expect(missing).toEqual([]);
  });

  it('links only to headings that exist', () => {
    const dir = path.dirname(path.join(repoRoot, file));
    const broken = [...text.matchAll(/\]\(([^)\s#]*\.md)?#([^)\s]+)\)/g)].filter((match) => {
      const target = match[1] ? readFileSync(path.resolve(dir, match[1]), 'utf8') : text;
      return !headingAnchors(target).has(match[2] as string);
    });
    expect(broken.map((match) => match[0])).toEqual([]);
  });

  if (file !== 'README.md') {
    it('starts with the question it answers', () => {
      const heading = proseLines(text).find(({ line }) => line.startsWith('#'))?.line ?? '';
      expect(heading).toMatch(/^# .+\?$/);
    });
  }
});

describe('docs/troubleshooting.md', () => {
  const committed = read('docs/troubleshooting.md');

  it('is what charts/reference generates now (run `npm run docs` when not)', () => {
    expect(committed).toBe(troubleshootingGuide());
  });

  it('explains every reason the operator writes and every DingTalk answer it knows', () => {
    for (const reason of Object.keys(reasonGuide)) expect(committed).toContain(`| \`${reason}\` |`);
    for (const error of knownDingTalkErrors) expect(committed).toContain(`| \`${error.code}\` |`);
  });
});

describe('docs/operations.md', () => {
  it('names only metrics the operator and the receiver export', () => {
    const source = ['operator/runtime/metrics.ts', 'operator/receiver/metrics.ts'].map(read).join('\n');
    const exported = new Set(
      [...source.matchAll(/const PREFIX = '([a-z_]+)';[\s\S]*?(?=const PREFIX|$)/g)].flatMap((module) =>
        [...(module[0] as string).matchAll(/name: `\$\{PREFIX\}([a-z_]+)`/g)].map(
          (name) => `${module[1]}${name[1]}`,
        ),
      ),
    );
    const named = [...read('docs/operations.md').matchAll(/`(dingtalk_operator_[a-z_]+)`/g)].map((m) => m[1]);
    expect(named.length).toBeGreaterThan(10);
    expect(named.filter((name) => !exported.has(name as string))).toEqual([]);
  });
});
