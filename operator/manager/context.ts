import type { KubernetesObject, V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { OperatorConfig } from '../config.ts';
import type { HeldTargets } from '../delivery/held.ts';
import type { RobotBudgets } from '../delivery/robot-budgets.ts';
import type { DingTalkClient } from '../dingtalk/index.ts';
import type { StreamStatus } from '../dingtalk/stream-client.ts';
import type { QuotaLedger } from '../quota/ledger.ts';
import type { TemplateRenderer } from '../rules/templates.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { KubeHttp } from '../runtime/kube-http.ts';
import type { OperatorMetrics } from '../runtime/metrics.ts';
import type { StatusWriter } from '../runtime/status.ts';
import type { MemberDirectory } from '../targets/index.ts';
import type { ReferenceStore } from './reference-store.ts';
import type { ResourceCache } from './resource-cache.ts';

/**
 * A custom resource as the informer holds it: not yet validated. Controllers parse it with
 * operator/api's parse helpers, which report invalid fields by path.
 */
export type CustomObject = KubernetesObject & { spec?: unknown; status?: unknown };

/** Everything a controller needs, built once by the manager and shared by every controller. */
export interface OperatorContext {
  config: OperatorConfig;
  /** The API server, for every call and watch of the operator. */
  kube: KubeHttp;
  logger: Logger;
  metrics: OperatorMetrics;
  events: EventRecorder;
  dingtalk: DingTalkClient;
  /** Member lookups (mobile → userId, unknown userIds), shared so controllers do not ask DingTalk twice. */
  members: MemberDirectory;
  /** Targets whose alarms wait for a configuration fix: dispatch records them, services report them. */
  held: HeldTargets;
  /**
   * The month's DingTalk calls per service and quota bucket: every sender counts through it (its
   * QuotaCounter interface), dispatch writes it to status, the service controller reports it.
   */
  quota: QuotaLedger;
  /** Renders users' templates off the event loop (rules/template-pool.ts). */
  templates: TemplateRenderer;
  /** One send budget per group robot, shared by alarm notifications and test messages. */
  robotBudgets: RobotBudgets;
  /** This replica's DingTalk Stream connections (card clicks), by the services whose cards use them. */
  streams?: {
    statusOf(namespace: string, service: string): StreamStatus | undefined;
    onChange(listener: (namespace: string, service: string) => void): () => void;
  };
  caches: {
    services: ResourceCache<CustomObject>;
    rules: ResourceCache<CustomObject>;
    alarms: ResourceCache<CustomObject>;
    /** Only the Secrets and ConfigMaps that DingTalkServices refer to (see reference-store.ts). */
    secrets: ReferenceStore<V1Secret>;
    configMaps: ReferenceStore<V1ConfigMap>;
  };
  status: {
    services: StatusWriter;
    rules: StatusWriter;
    alarms: StatusWriter;
  };
}

/** A unit of work the manager starts once this replica leads, and stops on shutdown. */
export interface Component {
  readonly name: string;
  start(signal: AbortSignal): Promise<void>;
  stop(graceMs: number): Promise<void>;
}

/** Builds a feature's components (controllers, background loops) from the shared context. */
export type ComponentFactory = (context: OperatorContext) => Component[];

/** Resolves once every informer of `caches` has listed; rejects if `signal` aborts first. */
export async function cachesSynced(
  caches: readonly { informers: readonly { waitForSync(signal: AbortSignal): Promise<void> }[] }[],
  signal: AbortSignal,
): Promise<void> {
  await Promise.all(
    caches.flatMap((cache) => cache.informers).map((informer) => informer.waitForSync(signal)),
  );
}
