import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { toStructuralSchema } from './structural-schema.ts';

const described = (schema: z.ZodType) => schema.describe('a field');

describe('toStructuralSchema', () => {
  it('drops additionalProperties beside properties, as the API server requires', () => {
    const schema = toStructuralSchema(z.strictObject({ a: described(z.string()) }));
    expect(schema).not.toHaveProperty('additionalProperties');
    expect(schema).not.toHaveProperty('$schema');
  });

  it('turns an open object into x-kubernetes-preserve-unknown-fields', () => {
    const schema = toStructuralSchema(z.object({ extra: described(z.looseObject({})) }));
    expect(schema.properties).toMatchObject({ extra: { 'x-kubernetes-preserve-unknown-fields': true } });
  });

  it('keeps typed maps as additionalProperties', () => {
    const schema = toStructuralSchema(
      z.object({ labels: described(z.record(z.string(), z.string().max(3))) }),
    );
    expect(schema.properties).toMatchObject({
      labels: { type: 'object', additionalProperties: { type: 'string', maxLength: 3 } },
    });
  });

  it('marks integers int64 instead of repeating the safe-integer bounds', () => {
    const schema = toStructuralSchema(z.object({ count: described(z.int().min(0)) }));
    expect(schema.properties).toEqual({
      count: { type: 'integer', minimum: 0, format: 'int64', description: 'a field' },
    });
  });

  it("leaves date-time validation to the format instead of zod's regex", () => {
    const schema = toStructuralSchema(z.object({ at: described(z.iso.datetime()) }));
    expect(schema.properties).toEqual({
      at: { type: 'string', format: 'date-time', description: 'a field' },
    });
  });

  it('rejects unions, which are not structural', () => {
    expect(() => toStructuralSchema(z.object({ v: described(z.union([z.string(), z.int()])) }))).toThrow(
      /\.v: 'anyOf' is not allowed/,
    );
  });

  it('rejects a field without a description, naming it', () => {
    expect(() => toStructuralSchema(z.object({ outer: described(z.object({ inner: z.string() })) }))).toThrow(
      /\.outer\.inner: every field needs a description/,
    );
  });

  it('rejects nodes without a type', () => {
    expect(() => toStructuralSchema(z.object({ any: described(z.unknown()) }))).toThrow(
      /\.any: .*needs a type/,
    );
  });
});
