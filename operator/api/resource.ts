import { z } from 'zod';
import { API_VERSION, type GROUP, type VERSION } from './group.ts';

/** The parts of metav1.ObjectMeta the operator reads; everything else is kept as is. */
export const ObjectMeta = z.looseObject({
  name: z.string().optional(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.int().optional(),
  resourceVersion: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  /** 1 shows the column only with `kubectl get -o wide`. */
  priority?: number;
}

/** Everything the CRD of one kind is built from. */
export interface KindDefinition {
  group: typeof GROUP;
  version: typeof VERSION;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  printerColumns: PrinterColumn[];
}

/** The zod schema of a whole object of one kind, for runtime parsing. */
export function customResource<K extends string, Spec extends z.ZodType, Status extends z.ZodType>(
  kind: K,
  spec: Spec,
  status: Status,
) {
  return z.object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(kind),
    metadata: ObjectMeta,
    spec,
    status: status.optional(),
  });
}

const readyCondition = '.status.conditions[?(@.type=="Ready")]';

/** Ready / Reason / Message / Age, as Flux and cert-manager show them. */
export const readinessColumns: PrinterColumn[] = [
  {
    name: 'Ready',
    type: 'string',
    jsonPath: `${readyCondition}.status`,
    description: 'Whether the object is ready.',
  },
  {
    name: 'Reason',
    type: 'string',
    jsonPath: `${readyCondition}.reason`,
    description: 'Why it is or is not ready.',
  },
  {
    name: 'Message',
    type: 'string',
    jsonPath: `${readyCondition}.message`,
    description: 'Details of the Ready condition.',
    priority: 1,
  },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Time since creation.' },
];
