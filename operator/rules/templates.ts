import type { Liquid } from 'liquidjs';
import {
  type AlarmRuleSpec,
  DingTalkConditionReason,
  type MessageSpec,
  type Severity,
} from '../api/index.ts';
import {
  createLiquid,
  type Escaping,
  isLimitError,
  type ParsedTemplate,
  positionOf,
  type RenderResult,
  TEMPLATE_LIMITS,
} from './liquid-engine.ts';

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
 * After a render of a namespace's template exceeds a limit, that namespace's templates are not rendered
 * (the built-in text is used) for this long, so a costly template costs its namespace at most one
 * bounded render per cooldown, however many alarms or robots it has.
 */
export const COOLDOWN_MS = 60_000;

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

export interface MessageTemplates {
  type: MessageSpec['type'];
  title?: ParsedTemplate;
  body?: ParsedTemplate;
  url?: ParsedTemplate;
  buttonTitle?: string;
  mentions?: MessageSpec['mentions'];
}

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
