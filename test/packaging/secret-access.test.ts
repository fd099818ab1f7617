import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DispatchHarness, get, groupService, inNamespace, tokenFor } from '../dispatch/harness.ts';
import { type RunningEmulator, startEmulator } from '../emulator/server.ts';
import { CHART_NAMESPACE, CHART_RELEASE, startChartCommand } from '../support/chart-command.ts';
import { createTestNamespace, eventually, kubectl, testKubeConfig } from '../support/kube.ts';
import { useOwnControlPlane } from '../support/private-control-plane.ts';
import type { RunningCommand } from './processes.ts';
import {
  applyIdentity,
  type ChartIdentity,
  renderChartIdentity,
  serviceAccountKubeconfig,
} from './restricted-identity.ts';

/**
 * The chart's `secretAccess: namespaces` on the API server, in its default mode otherwise: the operator
 * handles every namespace and runs as the chart starts it, as the ServiceAccount the chart renders in that
 * mode (a TokenRequest token, not the admin kubeconfig), which may read Secrets only in the namespaces of
 * secretNamespaces. A service in another namespace says which RoleBinding to create, and turns Ready once a
 * team creates it, without a restart. On a control plane of its own, as an operator handling every
 * namespace would handle the other test files' objects too.
 */

useOwnControlPlane('secret-access');
const SET = ['secretAccess=namespaces'];
const dir = mkdtempSync(path.join(tmpdir(), 'secret-access-'));
let identity: ChartIdentity;
/** The ClusterRole granting Secrets in one namespace, and the name of the RoleBinding a team creates. */
let role: string;
let emulator: RunningEmulator;
let operator: RunningCommand | undefined;
let bound: Awaited<ReturnType<typeof createTestNamespace>>;
let unbound: Awaited<ReturnType<typeof createTestNamespace>>;
let h: DispatchHarness;

beforeAll(async () => {
  await kubectl(['create', 'namespace', CHART_NAMESPACE]);
  bound = await createTestNamespace('secrets-bound');
  unbound = await createTestNamespace('secrets-unbound');
  const set = [...SET, `secretNamespaces={${bound.name}}`];
  identity = await renderChartIdentity(CHART_RELEASE, CHART_NAMESPACE, set);
  await applyIdentity(identity);
  role = identity.objects.find((o) => o.kind === 'ClusterRole' && o.metadata.name.endsWith('-secrets'))
    ?.metadata.name as string;
  const { file } = await serviceAccountKubeconfig(CHART_NAMESPACE, identity.serviceAccount, dir);
  emulator = await startEmulator();
  operator = await startChartCommand('operator', { emulatorUrl: emulator.url, set, kubeconfig: file });
  h = {
    namespace: bound.name,
    emulator,
    api: testKubeConfig().makeApiClient(CustomObjectsApi),
  } as DispatchHarness;
});

afterAll(async () => {
  await operator?.stop();
  await emulator?.close();
  rmSync(dir, { recursive: true, force: true });
});

type Condition = { type: string; status: string; reason?: string; message?: string };
const ready = async (team: DispatchHarness, name: string) =>
  ((await get(team, 'DingTalkService', name)).status?.conditions as Condition[] | undefined)?.find(
    (c) => c.type === 'Ready',
  );

describe('per-namespace Secret access (secretAccess: namespaces)', () => {
  it('makes a service Ready where the chart bound the role, SecretAccessDenied naming the RoleBinding elsewhere, and Ready once it is created', async () => {
    const inBound = inNamespace(h, bound.name);
    const inUnbound = inNamespace(h, unbound.name);
    await groupService(inBound, 'ops', { token: tokenFor('boundsecret') });
    await groupService(inUnbound, 'ops', { token: tokenFor('unboundsecret') });

    const fine = await eventually(async () => {
      const condition = await ready(inBound, 'ops');
      return condition?.status === 'True' ? condition : undefined;
    });
    expect(fine.status).toBe('True');
    const denied = await eventually(async () => {
      const condition = await ready(inUnbound, 'ops');
      return condition?.reason === 'SecretAccessDenied' ? condition : undefined;
    });
    expect(denied.status).toBe('False');
    expect(denied.message).toContain(
      `kubectl create rolebinding ${role} -n ${unbound.name} --clusterrole=${role} --serviceaccount=${CHART_NAMESPACE}:${identity.serviceAccount}`,
    );

    // The team runs the command the condition gives.
    await kubectl([
      'create',
      'rolebinding',
      role,
      '-n',
      unbound.name,
      `--clusterrole=${role}`,
      `--serviceaccount=${CHART_NAMESPACE}:${identity.serviceAccount}`,
    ]);
    const granted = await eventually(
      async () => {
        const condition = await ready(inUnbound, 'ops');
        return condition?.status === 'True' ? condition : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(granted.reason).not.toBe('SecretAccessDenied');
  });
});
