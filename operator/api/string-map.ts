import { z } from 'zod';

/** A string-to-string map (labels, annotations) with bounds, so CEL rules over it stay within cost limits. */
export function stringMap(maxEntries: number, maxValueLength: number) {
  return z
    .record(z.string(), z.string().max(maxValueLength))
    .refine((map) => Object.keys(map).length <= maxEntries, `must have at most ${maxEntries} entries`)
    .meta({ maxProperties: maxEntries });
}
