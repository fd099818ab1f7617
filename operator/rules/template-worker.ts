import { parentPort } from 'node:worker_threads';
import type { Liquid, Template } from 'liquidjs';
import {
  createLiquid,
  type Escaping,
  isLimitError,
  type ParsedTemplate,
  positionOf,
  type RenderResult,
} from './liquid-engine.ts';

/**
 * A template worker of template-pool.ts: renders one job at a time, synchronously (the pool does not
 * give it another before it answers, and terminates it when it takes too long).
 */

export interface RenderJob {
  id: number;
  templates: ParsedTemplate[];
  scope: object;
  /** liquidjs' clock for this render; undefined renders by work alone (the rule check). */
  renderMs: number | undefined;
}

export interface RenderAnswer {
  id: number;
  results: RenderResult[];
}

const engines: Record<Escaping, Liquid> = {
  markdown: createLiquid('markdown'),
  plain: createLiquid('plain'),
};

/**
 * Parsed templates by escaping and source, so a rule's notifications parse once. Bounded by the
 * characters of source they hold: a parse takes memory in proportion.
 */
const parsed = new Map<string, Template[]>();
const CACHED_CHARS = 256 * 1024;
let cachedChars = 0;

function parse(template: ParsedTemplate): Template[] {
  const key = `${template.escaping}:${template.source}`;
  const hit = parsed.get(key);
  if (hit) {
    // Most recently used last, so the oldest go first.
    parsed.delete(key);
    parsed.set(key, hit);
    return hit;
  }
  const templates = engines[template.escaping].parse(template.source);
  parsed.set(key, templates);
  cachedChars += key.length;
  for (const [old] of parsed) {
    if (cachedChars <= CACHED_CHARS || old === key) break;
    parsed.delete(old);
    cachedChars -= old.length;
  }
  return templates;
}

function render(template: ParsedTemplate, scope: object, renderMs: number | undefined): RenderResult {
  try {
    const text = engines[template.escaping].renderSync(parse(template), scope, {
      renderLimit: renderMs ?? Number.POSITIVE_INFINITY,
    }) as string;
    return { text };
  } catch (err) {
    return {
      error: err instanceof Error ? err.message : String(err),
      limit: isLimitError(err),
      ...positionOf(err),
    };
  }
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (job: RenderJob) => {
    const results = job.templates.map((t) => render(t, job.scope, job.renderMs));
    port.postMessage({ id: job.id, results } satisfies RenderAnswer);
  });
  port.postMessage('ready');
}
