import { z } from 'zod';

export type JsonSchema = { [keyword: string]: unknown };

// JSON Schema keywords zod may emit that a CRD schema must not contain and that carry no validation we need.
const DROPPED = ['$schema', '$id', 'id', 'definitions', '$defs', 'propertyNames', 'const', 'examples'];
// Keywords the API server rejects or that make a schema non-structural; zod emits them only for constructs
// (unions, tuples, reused ids) the API schemas must not use, so meeting one is a bug in a schema.
const FORBIDDEN = [
  '$ref',
  'anyOf',
  'oneOf',
  'allOf',
  'not',
  'uniqueItems',
  'patternProperties',
  'additionalItems',
];

/**
 * A Kubernetes structural schema (apiextensions v1) for a zod schema: zod's OpenAPI 3.0 output with what
 * Kubernetes forbids removed, integers marked int64, and every property required to carry a description.
 * Throws on anything it cannot turn into a structural schema, naming the path.
 */
export function toStructuralSchema(schema: z.ZodType): JsonSchema {
  const emitted = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'throw' });
  return sanitize(emitted as JsonSchema, '');
}

function sanitize(node: JsonSchema, path: string): JsonSchema {
  const out: JsonSchema = {};
  for (const [keyword, value] of Object.entries(node)) {
    if (DROPPED.includes(keyword)) continue;
    if (FORBIDDEN.includes(keyword))
      throw new Error(`${path || '<root>'}: '${keyword}' is not allowed in a CRD schema`);
    out[keyword] = value;
  }
  if (Array.isArray(out.type)) throw new Error(`${path || '<root>'}: type arrays are not structural`);
  if (out.nullable) throw new Error(`${path || '<root>'}: nullable fields are not used in this API`);

  if (isEmptySchema(out.additionalProperties)) {
    delete out.additionalProperties;
    out['x-kubernetes-preserve-unknown-fields'] = true;
  }
  if (out.properties) {
    delete out.additionalProperties;
    const properties: Record<string, JsonSchema> = {};
    for (const [name, child] of Object.entries(out.properties as Record<string, JsonSchema>)) {
      const childPath = `${path}.${name}`;
      if (typeof child.description !== 'string' || child.description === '') {
        throw new Error(`${childPath}: every field needs a description (kubectl explain shows it)`);
      }
      properties[name] = sanitize(child, childPath);
    }
    out.properties = properties;
  } else if (typeof out.additionalProperties === 'object') {
    out.additionalProperties = sanitize(out.additionalProperties as JsonSchema, `${path}.*`);
  }
  if (out.items) out.items = sanitize(out.items as JsonSchema, `${path}[*]`);

  if (out.format === 'date-time') delete out.pattern; // zod's date-time regex duplicates the format check
  if (out.type === 'integer') markInt64(out);

  if (!out.type && !out['x-kubernetes-preserve-unknown-fields'] && !out['x-kubernetes-int-or-string']) {
    throw new Error(`${path || '<root>'}: every schema node needs a type`);
  }
  return out;
}

function isEmptySchema(value: unknown): boolean {
  return value === true || (typeof value === 'object' && value !== null && Object.keys(value).length === 0);
}

// zod bounds z.int() by the safe-integer range; Kubernetes spells that int64.
function markInt64(node: JsonSchema) {
  if (node.minimum === Number.MIN_SAFE_INTEGER) delete node.minimum;
  if (node.maximum === Number.MAX_SAFE_INTEGER) delete node.maximum;
  node.format = 'int64';
}
