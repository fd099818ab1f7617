import type { z } from 'zod';

/** A cross-field rule, stated once for the API server (CEL) and once for the operator's runtime parsing. */
export interface CrossFieldRule<T> {
  /** CEL over `self`; the API server rejects objects for which it is false. */
  rule: string;
  message: string;
  /** Where the error is reported, relative to the object the rule sits on, e.g. `.groups`. */
  fieldPath?: `.${string}`;
  // FieldValueDuplicate is left out: the API server prints only the value with it, not the message.
  reason?: 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueForbidden';
  /** The same rule in TypeScript, so parse helpers reject exactly what the API server rejects. */
  holds: (value: T) => boolean;
}

/** Attaches rules both as `x-kubernetes-validations` (for the CRD) and as zod refinements (for parsing). */
export function withRules<S extends z.ZodType>(
  schema: S,
  description: string,
  rules: CrossFieldRule<z.output<S>>[],
): S {
  let checked = schema;
  for (const { holds, message, fieldPath } of rules) {
    checked = checked.refine(holds, { message, path: fieldPath?.slice(1).split('.') ?? [] });
  }
  return checked.meta({
    description,
    'x-kubernetes-validations': rules.map(({ holds: _runtimeOnly, ...cel }) => cel),
  });
}
