import { type Context, defaultOperators, Liquid, type Template, TokenKind } from 'liquidjs';
import { escapeMarkdown } from './untrusted.ts';

/**
 * The Liquid engine users' templates are parsed and rendered with, and what a render may cost. Imported
 * by the template workers (template-worker.ts), so it imports nothing of the operator but the escaping.
 */

/**
 * Per render. `work` counts liquidjs' own memory units (array elements and characters a filter or range
 * allocates) plus, added here, every template node rendered (one loop iteration of a one-node body is
 * one unit), every character an output tag writes, every element a filter is given and every operator
 * evaluated, so loops and searches over an existing array, which liquidjs does not charge, are bounded
 * without a clock. Sized in bench/results/templates.md: a digest template over 100 alarms uses about
 * 40,000 units; 500,000 units take about 50 ms of CPU and a few MB.
 *
 * `renderMs` is liquidjs' own clock for renders of alarms, checked between template nodes. `killMs` and
 * `heapMiB` bound every render, the check of a rule's template on the sample included: the worker is
 * terminated when one render runs longer or its heap grows larger, which only a template far beyond its
 * work budget does (the check's verdict therefore does not depend on a busy machine's clock: the work
 * budget ends the render in well under a tenth of `killMs`). `parseChars` is the longest template the
 * CRD admits.
 */
export const TEMPLATE_LIMITS = {
  work: 500_000,
  renderMs: 250,
  killMs: 2_000,
  heapMiB: 64,
  parseChars: 16_384,
} as const;

// A node rendered costs about as much CPU as copying ten characters.
const NODE_UNITS = 10;
// An element a filter walks, with the expression it may evaluate for it, costs about as much CPU as
// three nodes (liquidjs compares and evaluates through generators; bench/results/templates.md).
const ELEMENT_UNITS = 30;

const REFUSED_TAGS = ['include', 'render', 'layout'] as const;

/** How a template's output is escaped: markdown bodies, or titles, URLs and plain text as they are. */
export type Escaping = 'markdown' | 'plain';

/** Units for the elements a filter argument or operand holds, as liquidjs would iterate them. */
function elements(value: unknown): number {
  if (Array.isArray(value)) return value.length * ELEMENT_UNITS;
  if (value instanceof Map || value instanceof Set) return value.size * ELEMENT_UNITS;
  return 0;
}

/** The engine for one escaping; created in the worker that renders and on the loop that parses. */
export function createLiquid(escaping: Escaping): Liquid {
  const escapeOutput = escaping === 'markdown' ? escapeMarkdown : undefined;
  const liquid = new Liquid({
    strictVariables: false,
    strictFilters: false,
    ownPropertyOnly: true,
    renderLimit: TEMPLATE_LIMITS.renderMs,
    memoryLimit: TEMPLATE_LIMITS.work,
    parseLimit: TEMPLATE_LIMITS.parseChars,
    operators: chargedOperators,
    // Charges what an output tag writes; `| raw` skips this (and the escaping), not the node's unit.
    outputEscape(this: { context: Context }, value: unknown) {
      const text = value === undefined || value === null ? '' : String(value);
      this.context.memoryLimit.use(text.length);
      return escapeOutput ? escapeOutput(text) : text;
    },
  });
  for (const name of REFUSED_TAGS) {
    liquid.registerTag(name, {
      parse() {
        throw new Error(`the ${name} tag is not available: templates cannot read other templates or files`);
      },
      render() {
        return '';
      },
    });
  }
  chargeFilters(liquid);
  const renderer = liquid.renderer;
  const renderTemplates = renderer.renderTemplates.bind(renderer);
  // Every tag renders its body through this method, once per loop iteration: one unit per node, plus the
  // characters of literal text, which liquidjs writes without charging.
  renderer.renderTemplates = function* (templates, ctx, emitter) {
    let units = NODE_UNITS;
    for (const template of templates) units += NODE_UNITS + literalLength(template);
    ctx.memoryLimit.use(units);
    return yield* renderTemplates(templates, ctx, emitter);
  } as typeof renderer.renderTemplates;
  return liquid;
}

type FilterThis = { context: Context };
type FilterFunction = (this: FilterThis, value: unknown, ...args: unknown[]) => unknown;

/**
 * Every filter call costs one unit plus the elements of the array it is given and of the arrays among
 * its arguments (ELEMENT_UNITS each). liquidjs charges the filters that allocate, but not the ones that search (find,
 * find_exp, has, find_index, sum, …), and a searching filter in another's expression runs once per
 * element of the outer array: charged here, the nesting costs the product of the sizes.
 */
function chargeFilters(liquid: Liquid): void {
  for (const [name, filter] of Object.entries(liquid.filters)) {
    const handler = (typeof filter === 'function' ? filter : filter.handler) as FilterFunction;
    const raw = typeof filter === 'function' ? false : Boolean(filter.raw);
    liquid.registerFilter(name, {
      raw,
      handler(this: FilterThis, value: unknown, ...args: unknown[]) {
        let units = 1 + elements(value);
        for (const arg of args) units += elements(arg);
        this.context.memoryLimit.use(units);
        return handler.call(this, value, ...args);
      },
    });
  }
}

type Operator = (...operands: unknown[]) => unknown;

/**
 * Every operator evaluated costs one unit, and `==`, `!=` and `contains` also the elements of the
 * arrays they compare or search and the characters of a string `contains` searches (liquidjs walks them
 * one by one): an expression that a filter such as find_exp evaluates per element then costs what it does.
 */
const chargedOperators = Object.fromEntries(
  Object.entries(defaultOperators as Record<string, Operator>).map(([name, operator]) => {
    const walks = name === '==' || name === '!=' || name === 'contains';
    const charged = (...operands: unknown[]) => {
      // liquidjs passes the context last, after one operand (not) or two.
      const ctx = operands[operands.length - 1] as Context;
      let units = 1;
      if (walks) {
        for (const operand of operands.slice(0, 2)) {
          // indexOf on a string is native and fast: one unit per character.
          units += typeof operand === 'string' && name === 'contains' ? operand.length : elements(operand);
        }
      }
      ctx.memoryLimit.use(units);
      return operator(...operands);
    };
    return [name, charged];
  }),
) as typeof defaultOperators;

function literalLength(template: Template): number {
  const { token } = template as Template & { token?: { kind?: number; end?: number; begin?: number } };
  return token?.kind === TokenKind.HTML ? (token.end ?? 0) - (token.begin ?? 0) : 0;
}

/** A template that parses, and how its output is escaped: what a worker renders. */
export interface ParsedTemplate {
  source: string;
  escaping: Escaping;
}

/** How a template renders in a worker: its text, or why not (`limit`: it exceeded a limit). */
export type RenderResult =
  | { text: string }
  | { error: string; limit: boolean; line?: number; column?: number };

/** liquidjs' limit errors, and V8's when a string outgrows its maximum length. */
export function isLimitError(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /limit exceeded|Invalid string length|Invalid array length/.test(message);
}

/** Line and column of a liquidjs error, when it has them. */
export function positionOf(err: unknown): { line: number; column: number } | undefined {
  const position = (err as { token?: { getPosition?: () => [number, number] } }).token?.getPosition?.();
  return position ? { line: position[0], column: position[1] } : undefined;
}
