import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../operator/config.ts';
import { dingTalkServiceComponents } from '../../operator/controllers/dingtalk-service/index.ts';
import { Manager } from '../../operator/manager/manager.ts';
import { createLogger } from '../../operator/runtime/logger.ts';
import { type DispatchHarness, get, groupService, inNamespace, tokenFor } from '../dispatch/harness.ts';
import { type RunningEmulator, startEmulator } from '../emulator/server.ts';
import { createTestNamespace, eventually, kubectl, testKubeConfig } from '../support/kube.ts';
import { operatorFlags } from '../support/operator-flags.ts';
import {
  applyIdentity,
  type ChartIdentity,
  deleteClusterScoped,
  renderChartIdentity,
  serviceAccountKubeconfig,
} from './restricted-identity.ts';

/**
 * The chart's `secretAccess: namespaces` on the API server: the operator runs as the ServiceAccount the
 * chart renders in that mode (a TokenRequest token, not the admin kubeconfig), which may read Secrets only
 * in the namespaces of secretNamespaces. A service in another namespace says which RoleBinding to create,
 * and turns Ready once a team creates it, without a restart.
 */

const opsNamespace = `pkg-secrets-${randomBytes(4).toString('hex')}`;
const release = `secrets-${randomBytes(3).toString('hex')}`;
const role = `${release}-dingtalk-operator-secrets`;
const dir = mkdtempSync(path.join(tmpdir(), 'secret-access-'));
let identity: ChartIdentity;
let emulator: RunningEmulator;
let manager: Manager | undefined;
let bound: Awaited<ReturnType<typeof createTestNamespace>>;
let unbound: Awaited<ReturnType<typeof createTestNamespace>>;
let h: DispatchHarness;

beforeAll(async () => {
  await kubectl(['create', 'namespace', opsNamespace]);
  bound = await createTestNamespace('secrets-bound');
  unbound = await createTestNamespace('secrets-unbound');
  identity = await renderChartIdentity(release, opsNamespace, [
    'secretAccess=namespaces',
    `secretNamespaces={${bound.name}}`,
  ]);
  await applyIdentity(identity);
  const { file } = await serviceAccountKubeconfig(opsNamespace, identity.serviceAccount, dir);
  emulator = await startEmulator();
  const argv = [
    '--kubeconfig',
    file,
    ...operatorFlags(emulator.url, `${bound.name},${unbound.name}`, [
      '--log-level',
      'warn',
      // As the chart's deployment passes them in this mode.
      `--secret-access-role=${role}`,
      `--service-account=${opsNamespace}:${identity.serviceAccount}`,
    ]),
  ];
  manager = new Manager(loadConfig({ argv, env: {} }), createLogger({ level: 'warn' }), [
    dingTalkServiceComponents,
  ]);
  void manager.run();
  h = {
    namespace: bound.name,
    emulator,
    api: testKubeConfig().makeApiClient(CustomObjectsApi),
  } as DispatchHarness;
});

afterAll(async () => {
  await manager?.shutdown();
  await emulator?.close();
  await deleteClusterScoped(identity);
  await Promise.all([bound?.cleanup(), unbound?.cleanup()]);
  await kubectl(['delete', 'namespace', opsNamespace, '--wait=false']);
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
      `kubectl create rolebinding ${role} -n ${unbound.name} --clusterrole=${role} --serviceaccount=${opsNamespace}:${identity.serviceAccount}`,
    );

    // The team runs the command the condition gives.
    await kubectl([
      'create',
      'rolebinding',
      role,
      '-n',
      unbound.name,
      `--clusterrole=${role}`,
      `--serviceaccount=${opsNamespace}:${identity.serviceAccount}`,
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
