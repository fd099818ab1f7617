import { Liquid, type Template } from 'liquidjs';
import type { AlarmRuleSpec, MessageSpec, Severity } from '../api/index.ts';

/**
 * Users' message templates, in Liquid: a template language that cannot run code, with no custom filters
 * added here. Unknown variables and filters render empty rather than failing, so a typo shows in the
 * message instead of losing it; parse errors are reported with line and column.
 */
const liquid = new Liquid({
  strictVariables: false,
  strictFilters: false,
  ownPropertyOnly: true,
  // Bounds a hostile or careless template (huge loops) rather than the operator.
  renderLimit: 1_000,
  memoryLimit: 10_000_000,
  parseLimit: 1_000_000,
});

export interface TemplateProblem {
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
  title?: Template[];
  body?: Template[];
  url?: Template[];
  buttonTitle?: string;
  mentions?: MessageSpec['mentions'];
}

export interface CompiledTemplates {
  /** Per severity: rule-wide fields with the severity's override laid over them. */
  forSeverity(severity: Severity): MessageTemplates;
  problems: TemplateProblem[];
}

/** Parses every template of the rule; a template that fails to parse falls back to the built-in one. */
export function compileTemplates(spec: Pick<AlarmRuleSpec, 'message'>): CompiledTemplates {
  const problems: TemplateProblem[] = [];
  const parse = (source: string | undefined, field: string): Template[] | undefined => {
    if (source === undefined) return undefined;
    try {
      return liquid.parse(source);
    } catch (err) {
      problems.push(describeProblem(field, err));
      return undefined;
    }
  };
  const message = spec.message;
  const base: MessageTemplates = {
    type: message.type,
    buttonTitle: message.buttonTitle,
    mentions: message.mentions,
  };
  for (const field of FIELDS) base[field] = parse(message[field], `spec.message.${field}`);
  const bySeverity = new Map<Severity, MessageTemplates>();
  for (const override of message.overrides ?? []) {
    const merged: MessageTemplates = {
      ...base,
      type: override.type ?? base.type,
      buttonTitle: override.buttonTitle ?? base.buttonTitle,
      mentions: override.mentions ?? base.mentions,
    };
    for (const field of FIELDS) {
      const own = parse(override[field], `spec.message.overrides[${override.severity}].${field}`);
      if (own) merged[field] = own;
    }
    bySeverity.set(override.severity, merged);
  }
  return { forSeverity: (severity) => bySeverity.get(severity) ?? base, problems };
}

/** Renders a template; a failure at render time yields undefined so the built-in text is used. */
export function renderTemplate(template: Template[] | undefined, scope: object): string | undefined {
  if (!template) return undefined;
  try {
    return liquid.renderSync(template, scope) as string;
  } catch {
    return undefined;
  }
}

function describeProblem(field: string, err: unknown): TemplateProblem {
  const position = (err as { token?: { getPosition?: () => [number, number] } }).token?.getPosition?.();
  const raw = err instanceof Error ? err.message : String(err);
  // liquidjs appends ", line:L, col:C" and sometimes the source excerpt; keep the first line.
  const message = raw.split('\n')[0]?.replace(/, line:\d+, col:\d+$/, '') ?? raw;
  return position ? { field, message, line: position[0], column: position[1] } : { field, message };
}

export function formatProblem(problem: TemplateProblem): string {
  const where = problem.line === undefined ? '' : ` (line ${problem.line}, column ${problem.column})`;
  return `${problem.field}${where}: ${problem.message}`;
}
