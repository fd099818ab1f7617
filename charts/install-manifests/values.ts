import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';

/**
 * The chart's default values, read from charts/dingtalk-operator/values.yaml so the plain manifests use
 * the same image, replicas, flags and resources as `helm install` with no overrides. Only the values the
 * plain install uses are listed; values.schema.json describes them all.
 */

const chartDir = path.resolve(import.meta.dirname, '../dingtalk-operator');

const Resources = z.object({
  requests: z.record(z.string(), z.string()).optional(),
  limits: z.record(z.string(), z.string()).optional(),
});

const ChartValues = z.object({
  image: z.object({ repository: z.string(), tag: z.string(), pullPolicy: z.string() }),
  replicaCount: z.int(),
  watchNamespaces: z.array(z.string()).length(0, 'the plain install watches every namespace'),
  operator: z.object({
    logLevel: z.string(),
    workers: z.int(),
    healthPort: z.int(),
    leaderElection: z.object({ enabled: z.boolean() }),
    eventTtl: z.string(),
    revalidateInterval: z.string(),
    dingtalk: z.object({
      robotUrl: z.string(),
      apiUrl: z.string(),
      allowedWebhookHosts: z.array(z.string()),
    }),
    extraArgs: z.array(z.string()),
    resources: Resources,
  }),
  receiver: z.object({
    replicaCount: z.int(),
    port: z.int(),
    logLevel: z.string(),
    tokenAudiences: z.array(z.string()),
    namespaceRate: z.number(),
    namespaceBurst: z.int(),
    tls: z.object({ secretName: z.literal('', 'the plain install serves plain HTTP') }),
    extraArgs: z.array(z.string()),
    resources: Resources,
  }),
  podDisruptionBudget: z.object({ maxUnavailable: z.union([z.int(), z.string()]) }),
});
export type ChartValues = z.output<typeof ChartValues>;

const ChartMetadata = z.object({ name: z.string(), version: z.string(), appVersion: z.string() });
export type ChartMetadata = z.output<typeof ChartMetadata>;

export function chartDefaults(): { values: ChartValues; chart: ChartMetadata } {
  const read = (file: string) => parse(readFileSync(path.join(chartDir, file), 'utf8'));
  return { values: ChartValues.parse(read('values.yaml')), chart: ChartMetadata.parse(read('Chart.yaml')) };
}
