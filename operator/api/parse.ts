import type { z } from 'zod';
import { AlarmEvent } from './alarm-event.ts';
import { AlarmRule } from './alarm-rule.ts';
import { DingTalkService } from './dingtalk-service.ts';

export interface FieldIssue {
  /** Path as the API server spells it, e.g. `spec.groups[1].webhook.key`. */
  path: string;
  message: string;
}

/** An object that does not match its kind's schema; the message lists every offending field. */
export class InvalidResourceError extends Error {
  readonly kind: string;
  readonly issues: FieldIssue[];

  constructor(kind: string, name: string, issues: FieldIssue[]) {
    super(
      `${kind} ${name} is invalid: ${issues.map((i) => `${i.path || '<root>'}: ${i.message}`).join('; ')}`,
    );
    this.name = 'InvalidResourceError';
    this.kind = kind;
    this.issues = issues;
  }
}

export function fieldPath(path: readonly PropertyKey[]): string {
  return path
    .map((segment, index) =>
      typeof segment === 'number' ? `[${segment}]` : `${index === 0 ? '' : '.'}${String(segment)}`,
    )
    .join('');
}

function describeObject(obj: unknown): string {
  const metadata = (obj as { metadata?: { namespace?: unknown; name?: unknown } } | null)?.metadata;
  const name = typeof metadata?.name === 'string' ? metadata.name : '<unnamed>';
  return typeof metadata?.namespace === 'string' ? `${metadata.namespace}/${name}` : name;
}

function parserFor<S extends z.ZodType>(kind: string, schema: S) {
  return (obj: unknown): z.output<S> => {
    const result = schema.safeParse(obj);
    if (result.success) return result.data;
    const issues = result.error.issues.map((issue) => ({
      path: fieldPath(issue.path),
      message: issue.message,
    }));
    throw new InvalidResourceError(kind, describeObject(obj), issues);
  };
}

/** Validates a DingTalkService (defaults applied, robotCode filled in) or throws InvalidResourceError. */
export const parseDingTalkService = parserFor('DingTalkService', DingTalkService);
/** Validates an AlarmRule (defaults applied) or throws InvalidResourceError. */
export const parseAlarmRule = parserFor('AlarmRule', AlarmRule);
/** Validates an AlarmEvent (defaults applied) or throws InvalidResourceError. */
export const parseAlarmEvent = parserFor('AlarmEvent', AlarmEvent);
