import {
  ApiextensionsV1Api,
  CustomObjectsApi,
  EventsV1Api,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNotFound } from '../../operator/errors.ts';
import { type Condition, markFalse, markTrue } from '../../operator/runtime/conditions.ts';
import { EventRecorder } from '../../operator/runtime/events.ts';
import { StatusWriter } from '../../operator/runtime/status.ts';
import { createTestNamespace, eventually, testKubeConfig, testKubeHttp } from '../support/kube.ts';

const group = 'runtime-test.dingtalk.alarming.io';
const resource = { group, version: 'v1', plural: 'widgets' };

const crd: V1CustomResourceDefinition = {
  metadata: { name: `widgets.${group}` },
  spec: {
    group,
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: { type: 'object', x_kubernetes_preserve_unknown_fields: true },
              status: { type: 'object', x_kubernetes_preserve_unknown_fields: true },
            },
          },
        },
      },
    ],
  },
};

interface Widget {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; generation?: number; resourceVersion?: string; uid?: string };
  status?: { conditions?: Condition[]; detail?: string; observedGeneration?: number };
}

describe('status writer and event recorder against the API server', () => {
  const kubeConfig = testKubeConfig();
  const extensions = kubeConfig.makeApiClient(ApiextensionsV1Api);
  const objects = kubeConfig.makeApiClient(CustomObjectsApi);
  const kube = testKubeHttp();
  const writer = new StatusWriter(kube, resource);
  let namespace: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    await extensions.createCustomResourceDefinition({ body: crd }).catch((err) => {
      if ((err as { code?: number }).code !== 409) throw err;
    });
    await eventually(async () => {
      const current = await extensions.readCustomResourceDefinition({ name: `widgets.${group}` });
      return current.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')
        ? true
        : undefined;
    });
    ({ name: namespace, cleanup } = await createTestNamespace('status'));
  });

  afterAll(async () => {
    await cleanup();
    await extensions.deleteCustomResourceDefinition({ name: `widgets.${group}` }).catch(() => undefined);
  });

  const read = (name: string): Promise<Widget> =>
    objects.getNamespacedCustomObject({ ...resource, namespace, name });

  async function createWidget(name: string): Promise<Widget> {
    // The CRD may still be settling into discovery right after Established.
    return eventually(() =>
      objects.createNamespacedCustomObject({
        ...resource,
        namespace,
        body: { apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name }, spec: { size: 1 } },
      }),
    );
  }

  it('patches the status subresource only when the status changed', async () => {
    await createWidget('w1');
    const original = await read('w1');

    const first = structuredClone(original);
    markFalse(first, 'Ready', 'Progressing', 'starting');
    first.status = { ...first.status, detail: 'x' };
    expect(await writer.patchIfChanged(first, original.status)).toBe('patched');
    const afterFirst = await read('w1');
    expect(afterFirst.status?.conditions?.[0]).toMatchObject({
      type: 'Ready',
      status: 'False',
      observedGeneration: 1,
    });
    expect(afterFirst.status?.detail).toBe('x');

    const same = structuredClone(afterFirst);
    markFalse(same, 'Ready', 'Progressing', 'starting');
    expect(await writer.patchIfChanged(same, afterFirst.status)).toBe('unchanged');
    expect((await read('w1')).metadata.resourceVersion).toBe(afterFirst.metadata.resourceVersion);

    const next = structuredClone(afterFirst);
    markTrue(next, 'Ready', 'Succeeded', 'done');
    delete next.status?.detail;
    expect(await writer.patchIfChanged(next, afterFirst.status)).toBe('patched');
    const afterNext = await read('w1');
    expect(afterNext.status?.conditions?.[0]).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(afterNext.status).not.toHaveProperty('detail');
  });

  it('treats a deleted object as gone rather than as an error', async () => {
    const widget = await createWidget('w2');
    await objects.deleteNamespacedCustomObject({ ...resource, namespace, name: 'w2' });
    await eventually(() =>
      read('w2').then(
        () => undefined,
        (err) => (isNotFound(err) ? true : undefined),
      ),
    );
    const changed = structuredClone(widget);
    markTrue(changed, 'Ready', 'Succeeded', 'done');
    expect(await writer.patchIfChanged(changed, widget.status)).toBe('gone');
  });

  it('records events.k8s.io/v1 events about an object, once per transition within the window', async () => {
    const widget = await createWidget('w3');
    const recorder = new EventRecorder({
      kube,
      reportingController: 'dingtalk.alarming.io/runtime-test',
      reportingInstance: 'test-0',
      logger: pino({ level: 'silent' }),
    });
    const note = 'webhook https://oapi.dingtalk.com/robot/send?access_token=should-not-appear failed';
    expect(
      await recorder.record(widget, { type: 'Warning', reason: 'WebhookFailed', action: 'Validate', note }),
    ).toBe(true);
    expect(
      await recorder.record(widget, { type: 'Warning', reason: 'WebhookFailed', action: 'Validate', note }),
    ).toBe(false);
    expect(
      await recorder.record(widget, { type: 'Normal', reason: 'Ready', action: 'Validate', note: 'ok' }),
    ).toBe(true);

    const events = kubeConfig.makeApiClient(EventsV1Api);
    const list = await events.listNamespacedEvent({ namespace, fieldSelector: 'regarding.name=w3' });
    const byReason = Object.groupBy(list.items, (event) => event.reason ?? '');
    expect(byReason.WebhookFailed).toHaveLength(1);
    expect(byReason.Ready).toHaveLength(1);
    const failed = byReason.WebhookFailed?.[0];
    expect(failed).toMatchObject({
      type: 'Warning',
      action: 'Validate',
      reportingController: 'dingtalk.alarming.io/runtime-test',
      reportingInstance: 'test-0',
      regarding: { kind: 'Widget', name: 'w3', namespace, uid: widget.metadata.uid },
    });
    expect(failed?.note).not.toContain('should-not-appear');
  });
});
