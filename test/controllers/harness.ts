import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import {
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import {
  DINGTALK_SERVICE_PLURAL,
  type DingTalkServiceStatus,
  GROUP,
  VERSION,
} from '../../operator/api/index.ts';
import { componentFactories } from '../../operator/components.ts';
import { loadConfig } from '../../operator/config.ts';
import { Manager } from '../../operator/manager/manager.ts';
import { createLogger } from '../../operator/runtime/logger.ts';
import { operatorFlags } from '../support/operator-flags.ts';

/** Helpers for the controller suites: the operator in-process, and the objects a service refers to. */

export const hex = (bytes = 16) => randomBytes(bytes).toString('hex');
/** A 加签 secret shaped as DingTalk shows it. */
export const signatureSecret = () => `SEC${hex(32)}`;

export interface RunningOperator {
  manager: Manager;
  /** Every log line so far, as written. */
  logs: string[];
  stop(): Promise<void>;
}

/** The operator as `run` would start it, without leader election, watching `namespace` only. */
export function startOperator(options: {
  kubeconfig: string;
  namespace: string;
  emulatorUrl: string;
  extraArgs?: string[];
}): RunningOperator {
  const logs: string[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk, _encoding, callback) {
        logs.push(String(chunk));
        callback();
      },
    }),
  });
  const config = loadConfig({
    argv: [
      '--kubeconfig',
      options.kubeconfig,
      ...operatorFlags(options.emulatorUrl, options.namespace, options.extraArgs),
    ],
    env: {},
  });
  const manager = new Manager(config, logger, componentFactories);
  const running = manager.run();
  return {
    manager,
    logs,
    async stop() {
      await manager.shutdown();
      await running;
    },
  };
}

export interface ServiceStatusView {
  generation: number | undefined;
  annotations: Record<string, string>;
  status: DingTalkServiceStatus;
}

/** Creates and reads DingTalkServices, Secrets and ConfigMaps in one namespace. */
export function objects(kubeConfig: KubeConfig, namespace: string) {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const resource = { group: GROUP, version: VERSION, plural: DINGTALK_SERVICE_PLURAL, namespace };
  return {
    async putSecret(name: string, stringData: Record<string, string>) {
      const body = { metadata: { name }, stringData };
      try {
        await core.replaceNamespacedSecret({ namespace, name, body });
      } catch {
        await core.createNamespacedSecret({ namespace, body });
      }
    },
    putConfigMap(name: string, data: Record<string, string>) {
      return core.createNamespacedConfigMap({ namespace, body: { metadata: { name }, data } });
    },
    createService(name: string, spec: Record<string, unknown>) {
      return custom.createNamespacedCustomObject({
        ...resource,
        body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'DingTalkService', metadata: { name }, spec },
      });
    },
    /** Merge-patches the object (metadata and spec), as `kubectl patch --type merge` would. */
    async patch(name: string, body: Record<string, unknown>) {
      await custom.patchNamespacedCustomObject(
        { ...resource, name, body },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    },
    async service(name: string): Promise<ServiceStatusView> {
      const obj = (await custom.getNamespacedCustomObject({ ...resource, name })) as {
        metadata: { generation?: number; annotations?: Record<string, string> };
        status?: DingTalkServiceStatus;
      };
      return {
        generation: obj.metadata.generation,
        annotations: obj.metadata.annotations ?? {},
        status: obj.status ?? {},
      };
    },
    async listServiceStatuses(): Promise<string> {
      const list = (await custom.listNamespacedCustomObject(resource)) as { items: { status?: unknown }[] };
      return JSON.stringify(list.items.map((item) => item.status));
    },
    async eventNotes(): Promise<string> {
      const events = await kubeConfig.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace });
      return JSON.stringify(events.items.map((e) => ({ reason: e.reason, note: e.note })));
    },
  };
}

export function condition(status: DingTalkServiceStatus, type: string) {
  return status.conditions?.find((c) => c.type === type);
}
