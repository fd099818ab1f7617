import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import type { EmulatorControl } from '../emulator/control-client.ts';
import { repoRoot } from '../packaging/helm.ts';
import { eventually, kubectl } from '../support/kube.ts';

const run = promisify(execFile);

/**
 * The demo `make run` shows (test/local/seed-demo.ts): the emulator learns the examples' robots, app and
 * users, and the examples are applied in `namespace` with Secrets pointing at the emulator (at `robotUrl`
 * as the operator reaches it, when that is not `emulatorUrl`).
 */
export async function seedDemo(
  emulatorUrl: string,
  namespace: string,
  robotUrl = emulatorUrl,
): Promise<void> {
  await run(
    process.execPath,
    ['test/local/seed-demo.ts', emulatorUrl, inject('kubectl'), namespace, robotUrl],
    {
      cwd: repoRoot,
      env: { ...process.env, KUBECONFIG: inject('kubeconfig') },
    },
  );
}

interface Item {
  metadata: { name: string };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string; reason: string; message: string }[];
  };
}

const list = async (resource: string, namespace: string) =>
  JSON.parse(await kubectl(['get', resource, '-n', namespace, '-o', 'json'])).items as Item[];

const readiness = (items: Item[]) =>
  items.map((item) => {
    const ready = item.status?.conditions?.find((c) => c.type === 'Ready');
    return { name: item.metadata.name, ready: ready?.status, reason: ready?.reason, message: ready?.message };
  });

/** The Ready of every DingTalkService and AlarmRule once each has one (True or False), by kind. */
export async function demoReadiness(namespace: string, timeoutMs: number) {
  const settled = (resource: string) =>
    eventually(
      async () => {
        const items = readiness(await list(resource, namespace));
        return items.length > 0 && items.every((i) => i.ready === 'True' || i.ready === 'False')
          ? items
          : undefined;
      },
      { timeoutMs, intervalMs: 500 },
    );
  return { services: await settled('dingtalkservices'), rules: await settled('alarmrules') };
}

/** The demo alarm's status once its phase is final, and the one-to-one messages and cards the emulator received. */
export async function demoAlarmOutcome(namespace: string, emulator: EmulatorControl, timeoutMs: number) {
  const event = await eventually(
    async () => {
      const found = (await list('alarmevents', namespace)).find(
        (e) => e.metadata.name === 'disk-full-node-3',
      );
      const phase = found?.status?.phase;
      return phase && !['Pending', 'Delivering'].includes(phase) ? found : undefined;
    },
    { timeoutMs, intervalMs: 500 },
  );
  const memberMessages = (await emulator.messages()).filter((m) => m.to.kind === 'member');
  const memberCards = (await emulator.cards()).filter((c) => c.spaces.some((s) => s.startsWith('IM_ROBOT.')));
  return { status: event.status, memberMessages, memberCards };
}

/**
 * Clicks Acknowledge, as the on-call manager, on the demo alarm's card (the page's button, from the template
 * seed-demo.ts registered), and returns the alarm's `kubectl get ae` line once it names who acknowledged.
 */
export async function acknowledgeDemoCard(namespace: string, emulator: EmulatorControl): Promise<string> {
  const [card] = (await demoAlarmOutcome(namespace, emulator, 90_000)).memberCards;
  if (!card) throw new Error('the on-call members got no card');
  const template = JSON.parse(
    readFileSync(path.join(repoRoot, 'examples/dingtalk/card-template.json'), 'utf8'),
  ) as {
    buttons: { label: string; actionId: string; params: Record<string, unknown> }[];
  };
  const button = template.buttons.find((b) => b.label === 'Acknowledge');
  await eventually(async () => {
    const { deliveries } = await emulator.click(card.outTrackId, {
      userId: 'manager1234',
      actionIds: [button?.actionId ?? ''],
      params: button?.params ?? {},
    });
    return deliveries.some((d) => d.outcome === 'answered') ? deliveries : undefined;
  });
  return eventually(async () => {
    const out = await kubectl(['get', 'ae', 'disk-full-node-3', '-n', namespace, '--no-headers']);
    return out.includes('Zhang Wei') ? out : undefined;
  });
}
