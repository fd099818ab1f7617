import { type Context, defaultOperators, Liquid, type Template, TokenKind } from 'liquidjs';
import {
  type AlarmRuleSpec,
  DingTalkConditionReason,
  type MessageSpec,
  type Severity,
} from '../api/index.ts';
import { escapeMarkdown } from './untrusted.ts';

/**
 * Users' message templates, in Liquid: a template language that cannot run code, with no custom filters
 * added here. Unknown variables and filters render empty rather than failing, so a typo shows in the
 * message instead of losing it; parse errors are reported with line and column.
 *
 * Templates are written by every namespace's users. They are parsed here, on the operator's event loop
 * (parsing is linear in the template, which the CRD bounds), and rendered only in the worker threads of
 * template-pool.ts, so no template can hold the loop that renews the Lease and serves every namespace.
 * Each render is bounded by its work (TEMPLATE_LIMITS) and, since a single filter call cannot be
 * interrupted from inside, by a worker that is terminated when the render overruns its time or heap.
 * Nothing reads files: include, render and layout are refused.
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

/**
 * After a render of a namespace's template exceeds a limit, that namespace's templates are not rendered
 * (the built-in text is used) for this long, so a costly template costs its namespace at most one
 * bounded render per cooldown, however many alarms or robots it has.
 */
export const COOLDOWN_MS = 60_000;

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

/** Parses only: the loop never renders (see the top of this module). */
const parsers: Record<Escaping, Liquid> = {
  markdown: createLiquid('markdown'),
  plain: createLiquid('plain'),
};

export type TemplateProblemReason =
  | typeof DingTalkConditionReason.TemplateInvalid
  | typeof DingTalkConditionReason.TemplateTooExpensive;

export interface TemplateProblem {
  reason: TemplateProblemReason;
  /** e.g. spec.message.overrides[critical].body */
  field: string;
  message: string;
  line?: number;
  column?: number;
}

type Field = 'title' | 'body' | 'url';
const FIELDS: readonly Field[] = ['title', 'body', 'url'];

/** A template that parses, and how its output is escaped: what a worker renders. */
export interface ParsedTemplate {
  source: string;
  escaping: Escaping;
}

export interface MessageTemplates {
  type: MessageSpec['type'];
  title?: ParsedTemplate;
  body?: ParsedTemplate;
  url?: ParsedTemplate;
  buttonTitle?: string;
  mentions?: MessageSpec['mentions'];
}

/** How a template renders in a worker: its text, or why not (`limit`: it exceeded a limit). */
export type RenderResult =
  | { text: string }
  | { error: string; limit: boolean; line?: number; column?: number };

/** Renders templates off the event loop: template-pool.ts. */
export interface TemplateRenderer {
  /**
   * One result per template, in order, all against one scope. `check` renders as the rule check does:
   * judged by work alone, without liquidjs' clock.
   */
  render(
    namespace: string,
    templates: readonly ParsedTemplate[],
    scope: object,
    mode: 'alarm' | 'check',
  ): Promise<RenderResult[]>;
}

export interface CompiledTemplates {
  /** Per severity: rule-wide fields with the severity's override laid over them. */
  forSeverity(severity: Severity): MessageTemplates;
  /** Templates that do not parse. */
  problems: TemplateProblem[];
  /**
   * Renders each of the rule's templates once against a sample scope: a template that exceeds its
   * limits there (TemplateTooExpensive) is too expensive for any real use. Answered once per compiled
   * rule; its notifications find the same out on their first render and fall back to the built-in text.
   */
  check(renderer: TemplateRenderer, namespace: string, sample: object): Promise<TemplateProblem[]>;
}

function escapingFor(field: Field, type: MessageSpec['type']): Escaping {
  return field === 'body' && (type === 'markdown' || type === 'actionCard') ? 'markdown' : 'plain';
}

/** Parses every template of the rule: one that does not parse (TemplateInvalid) falls back to the built-in one. */
export function compileTemplates(spec: Pick<AlarmRuleSpec, 'message'>): CompiledTemplates {
  const problems: TemplateProblem[] = [];
  const checked: { template: ParsedTemplate; path: string }[] = [];
  const parse = (
    source: string | undefined,
    field: Field,
    type: MessageSpec['type'],
    path: string | undefined,
  ): ParsedTemplate | undefined => {
    if (source === undefined) return undefined;
    const escaping = escapingFor(field, type);
    try {
      parsers[escaping].parse(source);
    } catch (err) {
      if (path !== undefined) problems.push(describeProblem(reasonFor(err), path, err));
      return undefined;
    }
    const template = { source, escaping };
    if (path !== undefined) checked.push({ template, path });
    return template;
  };
  const message = spec.message;
  const base: MessageTemplates = {
    type: message.type,
    buttonTitle: message.buttonTitle,
    mentions: message.mentions,
  };
  for (const field of FIELDS) base[field] = parse(message[field], field, base.type, `spec.message.${field}`);
  const bySeverity = new Map<Severity, MessageTemplates>();
  for (const override of message.overrides ?? []) {
    const type = override.type ?? base.type;
    const merged: MessageTemplates = {
      ...base,
      type,
      buttonTitle: override.buttonTitle ?? base.buttonTitle,
      mentions: override.mentions ?? base.mentions,
    };
    for (const field of FIELDS) {
      const own = override[field];
      if (own !== undefined) {
        merged[field] = parse(own, field, type, `spec.message.overrides[${override.severity}].${field}`);
      } else if (type !== base.type && base[field]) {
        // The rule-wide template, escaped as this override's type needs (checked as the rule-wide field).
        merged[field] = parse(message[field], field, type, undefined);
      }
    }
    bySeverity.set(override.severity, merged);
  }
  let checking: Promise<TemplateProblem[]> | undefined;
  const check = async (renderer: TemplateRenderer, namespace: string, sample: object) => {
    // One render each, so an expensive template is named by its field and does not fail the others.
    const results = await Promise.all(
      checked.map(({ template }) => renderer.render(namespace, [template], sample, 'check')),
    );
    return results.flatMap(([result], i) =>
      result && 'error' in result && result.limit
        ? [describeProblem(DingTalkConditionReason.TemplateTooExpensive, checked[i]?.path ?? '', result)]
        : // Other render errors depend on the alarm (a filter given the wrong type) and fall back per message.
          [],
    );
  };
  return {
    forSeverity: (severity) => bySeverity.get(severity) ?? base,
    problems,
    check: (renderer, namespace, sample) => {
      checking ??= check(renderer, namespace, sample);
      // A check cut short (the pool closed) is asked again next time.
      checking.catch(() => {
        checking = undefined;
      });
      return checking;
    },
  };
}

const coolingUntil = new Map<string, number>();

/**
 * Renders a namespace's templates for one notification; a template that fails at render time yields
 * undefined, so the built-in text is used. A render that exceeds the limits starts the namespace's
 * cooldown (COOLDOWN_MS).
 */
export async function renderTemplates(
  renderer: TemplateRenderer,
  templates: readonly (ParsedTemplate | undefined)[],
  scope: object,
  namespace: string,
  now = Date.now,
): Promise<(string | undefined)[]> {
  const present = templates.filter((t) => t !== undefined);
  if (present.length === 0) return templates.map(() => undefined);
  const until = coolingUntil.get(namespace);
  if (until !== undefined) {
    if (now() < until) return templates.map(() => undefined);
    coolingUntil.delete(namespace);
  }
  const results = await renderer.render(namespace, present, scope, 'alarm');
  if (results.some((r) => 'error' in r && r.limit)) coolingUntil.set(namespace, now() + COOLDOWN_MS);
  let next = 0;
  return templates.map((t) => {
    if (t === undefined) return undefined;
    const result = results[next++];
    return result && 'text' in result ? result.text : undefined;
  });
}

function reasonFor(err: unknown): TemplateProblemReason {
  return isLimitError(err)
    ? DingTalkConditionReason.TemplateTooExpensive
    : DingTalkConditionReason.TemplateInvalid;
}

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

function describeProblem(
  reason: TemplateProblemReason,
  field: string,
  err: unknown | { error: string; line?: number; column?: number },
): TemplateProblem {
  const rendered = err as { error?: unknown; line?: number; column?: number };
  const position =
    typeof rendered.error === 'string'
      ? rendered.line === undefined
        ? undefined
        : { line: rendered.line, column: rendered.column ?? 0 }
      : positionOf(err);
  const raw =
    typeof rendered.error === 'string' ? rendered.error : err instanceof Error ? err.message : String(err);
  // liquidjs appends ", line:L, col:C" and sometimes the source excerpt; keep the first line.
  const first = raw.split('\n')[0]?.replace(/, line:\d+, col:\d+$/, '') ?? raw;
  const message =
    reason === DingTalkConditionReason.TemplateTooExpensive
      ? `${first}: the template needs more than its per-render budget (${TEMPLATE_LIMITS.work} units of work, ${TEMPLATE_LIMITS.killMs} ms, ${TEMPLATE_LIMITS.heapMiB} MiB of heap)`
      : first;
  return position ? { reason, field, message, ...position } : { reason, field, message };
}

export function formatProblem(problem: TemplateProblem): string {
  const where = problem.line === undefined ? '' : ` (line ${problem.line}, column ${problem.column})`;
  return `${problem.field}${where}: ${problem.message}`;
}
