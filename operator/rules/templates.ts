import { type Context, Liquid, type Template, TokenKind } from 'liquidjs';
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
 * Templates are written by every namespace's users and rendered on the operator's one event loop, so each
 * render is bounded (see TEMPLATE_LIMITS) and nothing reads files: include, render and layout are refused.
 */

/**
 * Per render. `work` counts liquidjs' own memory units (array elements and characters a filter or range
 * allocates) plus, added here, every template node rendered (one loop iteration of a one-node body is
 * one unit) and every character an output tag writes, so loops over an existing array, which liquidjs
 * does not charge, are bounded without a clock. Sized in bench/results/templates.md: a digest template
 * over 100 alarms uses about 40,000 units; 200,000 units take about 30 ms of CPU and a few MB. `renderMs`
 * is a backstop for renders of alarms only, not for the check of a rule's template on the sample, whose
 * verdict must not depend on how busy the machine is; `parseChars` is the longest template the CRD admits.
 */
export const TEMPLATE_LIMITS = { work: 500_000, renderMs: 250, parseChars: 16_384 } as const;

// A node rendered costs about as much CPU as copying ten characters.
const NODE_UNITS = 10;

/**
 * After a render of a namespace's template exceeds a limit, that namespace's templates are not rendered
 * (the built-in text is used) for this long, so a costly template costs its namespace at most one
 * bounded render per cooldown, however many alarms or robots it has.
 */
export const COOLDOWN_MS = 60_000;

const REFUSED_TAGS = ['include', 'render', 'layout'] as const;

function createLiquid(escapeOutput: ((text: string) => string) | undefined): Liquid {
  const liquid = new Liquid({
    strictVariables: false,
    strictFilters: false,
    ownPropertyOnly: true,
    renderLimit: TEMPLATE_LIMITS.renderMs,
    memoryLimit: TEMPLATE_LIMITS.work,
    parseLimit: TEMPLATE_LIMITS.parseChars,
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

function literalLength(template: Template): number {
  const { token } = template as Template & { token?: { kind?: number; end?: number; begin?: number } };
  return token?.kind === TokenKind.HTML ? (token.end ?? 0) - (token.begin ?? 0) : 0;
}

/** Markdown bodies: what alarms put in cannot become links, images, headings or quotes. */
const markdownLiquid = createLiquid(escapeMarkdown);
/** Titles, URLs and plain text. */
const plainLiquid = createLiquid(undefined);

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

/** A parsed template and the engine (escaping) it renders with. */
export interface ParsedTemplate {
  liquid: Liquid;
  templates: Template[];
}

export interface MessageTemplates {
  type: MessageSpec['type'];
  title?: ParsedTemplate;
  body?: ParsedTemplate;
  url?: ParsedTemplate;
  buttonTitle?: string;
  mentions?: MessageSpec['mentions'];
}

export interface CompiledTemplates {
  /** Per severity: rule-wide fields with the severity's override laid over them. */
  forSeverity(severity: Severity): MessageTemplates;
  problems: TemplateProblem[];
}

function liquidFor(field: Field, type: MessageSpec['type']): Liquid {
  return field === 'body' && (type === 'markdown' || type === 'actionCard') ? markdownLiquid : plainLiquid;
}

/**
 * Parses every template of the rule and, given a sample scope, renders each once against it: a template
 * that fails to parse (TemplateInvalid) or exceeds the limits on the sample (TemplateTooExpensive) is
 * reported and falls back to the built-in one.
 */
export function compileTemplates(spec: Pick<AlarmRuleSpec, 'message'>, sample?: object): CompiledTemplates {
  const problems: TemplateProblem[] = [];
  const parse = (
    source: string | undefined,
    field: Field,
    type: MessageSpec['type'],
    path: string | undefined,
  ): ParsedTemplate | undefined => {
    if (source === undefined) return undefined;
    const liquid = liquidFor(field, type);
    let parsed: ParsedTemplate;
    try {
      parsed = { liquid, templates: liquid.parse(source) };
    } catch (err) {
      if (path !== undefined) problems.push(describeProblem(reasonFor(err), path, err));
      return undefined;
    }
    if (sample !== undefined && path !== undefined) {
      try {
        // Judged by work alone: the clock of a busy machine must not make a rule's template invalid.
        liquid.renderSync(parsed.templates, sample, { renderLimit: Number.POSITIVE_INFINITY });
      } catch (err) {
        // Other render errors depend on the alarm (a filter given the wrong type) and fall back per message.
        if (isLimitError(err)) {
          problems.push(describeProblem(DingTalkConditionReason.TemplateTooExpensive, path, err));
          return undefined;
        }
      }
    }
    return parsed;
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
        // The rule-wide template, escaped as this override's type needs (already checked above).
        merged[field] = parse(message[field], field, type, undefined);
      }
    }
    bySeverity.set(override.severity, merged);
  }
  return { forSeverity: (severity) => bySeverity.get(severity) ?? base, problems };
}

const coolingUntil = new Map<string, number>();

/**
 * Renders a namespace's template; a failure at render time yields undefined so the built-in text is used.
 * A render that exceeds the limits starts the namespace's cooldown (COOLDOWN_MS).
 */
export function renderTemplate(
  template: ParsedTemplate | undefined,
  scope: object,
  namespace: string,
  now = Date.now(),
): string | undefined {
  if (!template) return undefined;
  const until = coolingUntil.get(namespace);
  if (until !== undefined) {
    if (now < until) return undefined;
    coolingUntil.delete(namespace);
  }
  try {
    return template.liquid.renderSync(template.templates, scope) as string;
  } catch (err) {
    if (isLimitError(err)) coolingUntil.set(namespace, now + COOLDOWN_MS);
    return undefined;
  }
}

function reasonFor(err: unknown): TemplateProblemReason {
  return isLimitError(err)
    ? DingTalkConditionReason.TemplateTooExpensive
    : DingTalkConditionReason.TemplateInvalid;
}

/** liquidjs' limit errors, and V8's when a string outgrows its maximum length. */
function isLimitError(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /limit exceeded|Invalid string length|Invalid array length/.test(message);
}

function describeProblem(reason: TemplateProblemReason, field: string, err: unknown): TemplateProblem {
  const position = (err as { token?: { getPosition?: () => [number, number] } }).token?.getPosition?.();
  const raw = err instanceof Error ? err.message : String(err);
  // liquidjs appends ", line:L, col:C" and sometimes the source excerpt; keep the first line.
  const first = raw.split('\n')[0]?.replace(/, line:\d+, col:\d+$/, '') ?? raw;
  const message =
    reason === DingTalkConditionReason.TemplateTooExpensive
      ? `${first}: the template needs more than its per-render budget (${TEMPLATE_LIMITS.work} units of work, ${TEMPLATE_LIMITS.renderMs} ms)`
      : first;
  return position
    ? { reason, field, message, line: position[0], column: position[1] }
    : { reason, field, message };
}

export function formatProblem(problem: TemplateProblem): string {
  const where = problem.line === undefined ? '' : ` (line ${problem.line}, column ${problem.column})`;
  return `${problem.field}${where}: ${problem.message}`;
}
