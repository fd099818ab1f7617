import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../operator/config.ts';
import { loadReceiverConfig } from '../../operator/receiver/config.ts';
import { createTestNamespace, kubectl } from '../support/kube.ts';
import { chartDir, find, helm, type KubeObject, parseManifests, renderChart, repoRoot } from './helm.ts';

type KubeObjectWithRules = KubeObject & { rules: { resources: string[]; verbs: string[] }[] };

interface Container {
  name: string;
  args: string[];
}

interface PodTemplate {
  spec: { template: { spec: { serviceAccountName: string; containers: Container[] } } };
}

/** The containers of every Deployment, the operator's first. */
function containers(yaml: string): Container[] {
  return parseManifests(yaml)
    .filter((object) => object.kind === 'Deployment')
    .flatMap((deployment) => (deployment as unknown as PodTemplate).spec.template.spec.containers);
}

describe('the Helm chart', () => {
  it('passes helm lint --strict without warnings', async () => {
    const output = await helm(['lint', '--strict', chartDir]);
    expect(output).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(output).not.toMatch(/\[(WARNING|ERROR)\]/);
  });

  it('ships the same CRDs as crds/, byte for byte (`npm run manifests` copies them)', () => {
    const names = (dir: string) =>
      readdirSync(dir)
        .filter((file) => file.endsWith('.yaml'))
        .sort();
    const chartCrds = path.join(chartDir, 'crds');
    const repoCrds = path.join(repoRoot, 'crds');
    expect(names(chartCrds)).toEqual(names(repoCrds));
    for (const name of names(repoCrds)) {
      expect(readFileSync(path.join(chartCrds, name), 'utf8'), name).toBe(
        readFileSync(path.join(repoCrds, name), 'utf8'),
      );
    }
  });

  it('rejects a value of the wrong type at install time, naming the value', async () => {
    await expect(
      renderChart({ release: 'bad', namespace: 'default', set: ['replicaCount=two'] }),
    ).rejects.toThrow(/at '\/replicaCount': got string, want integer/);
    await expect(
      renderChart({ release: 'bad', namespace: 'default', set: ['operator.eventTtl=3days'] }),
    ).rejects.toThrow(/at '\/operator\/eventTtl': '3days' does not match pattern/);
    await expect(renderChart({ release: 'bad', namespace: 'default', set: ['replicas=2'] })).rejects.toThrow(
      /additional properties 'replicas' not allowed/,
    );
  });

  it('passes the operator and the receiver only flags and values their configurations accept', async () => {
    for (const set of [
      [],
      [
        'watchNamespaces={team-a,team-b}',
        'operator.logLevel=debug',
        'operator.workers=8',
        'receiver.port=9090',
        'receiver.tls.secretName=receiver-tls',
        'receiver.namespaceRate=2',
        'receiver.tokenAudiences={a,https://receiver.example}',
      ],
    ]) {
      const [operator, receiver] = containers(await renderChart({ release: 'flags', namespace: 'ops', set }));
      expect([operator?.name, operator?.args[0]]).toEqual(['operator', 'run']);
      expect(() => loadConfig({ argv: operator?.args.slice(1) ?? [], env: {} })).not.toThrow();
      expect([receiver?.name, receiver?.args[0]]).toEqual(['receiver', 'receiver']);
      expect(() => loadReceiverConfig({ argv: receiver?.args.slice(1) ?? [], env: {} })).not.toThrow();
    }
  });
});

describe('the rendered chart on the API server', () => {
  const release = `pkg-${randomBytes(3).toString('hex')}`;
  let namespace: Awaited<ReturnType<typeof createTestNamespace>>;
  let watched: Awaited<ReturnType<typeof createTestNamespace>>[] = [];

  beforeAll(async () => {
    namespace = await createTestNamespace('pkg-chart');
    watched = [await createTestNamespace('pkg-watched'), await createTestNamespace('pkg-watched')];
  });
  afterAll(async () => {
    // ClusterRoles and ClusterRoleBindings outlive the namespaces; the release name makes them unique.
    await kubectl([
      'delete',
      'clusterrole,clusterrolebinding',
      '-l',
      `app.kubernetes.io/instance=${release}`,
    ]);
    await Promise.all([namespace, ...watched].map((ns) => ns.cleanup()));
  });

  it('applies with default values, first as a server-side dry run, then for real', async () => {
    const yaml = await renderChart({ release, namespace: namespace.name });
    expect(await kubectl(['apply', '--dry-run=server', '-f', '-'], yaml)).toMatch(/\(server dry run\)/);
    const applied = await kubectl(['apply', '-f', '-'], yaml);
    for (const object of [
      `serviceaccount/${release}-dingtalk-operator created`,
      `serviceaccount/${release}-dingtalk-operator-receiver created`,
      `clusterrole.rbac.authorization.k8s.io/${release}-dingtalk-operator created`,
      `clusterrole.rbac.authorization.k8s.io/${release}-dingtalk-operator-receiver created`,
      `role.rbac.authorization.k8s.io/${release}-dingtalk-operator-leader-election created`,
      `deployment.apps/${release}-dingtalk-operator created`,
      `deployment.apps/${release}-dingtalk-operator-receiver created`,
      `service/${release}-dingtalk-operator-receiver created`,
      `service/${release}-dingtalk-operator-metrics created`,
      `poddisruptionbudget.policy/${release}-dingtalk-operator created`,
      `poddisruptionbudget.policy/${release}-dingtalk-operator-receiver created`,
    ]) {
      expect(applied).toContain(object);
    }
  });

  it('runs the receiver apart, under a ServiceAccount that may not read Secrets', async () => {
    const objects = parseManifests(await renderChart({ release, namespace: namespace.name }));
    const deployments = objects.filter((o) => o.kind === 'Deployment') as unknown as (PodTemplate & {
      metadata: { name: string };
    })[];
    const accounts = deployments.map((d) => [
      d.spec.template.spec.containers.map((c) => c.name).join(','),
      d.spec.template.spec.serviceAccountName,
    ]);
    expect(accounts).toEqual([
      ['operator', `${release}-dingtalk-operator`],
      ['receiver', `${release}-dingtalk-operator-receiver`],
    ]);
    const receiverRole = find(objects, 'ClusterRole', `${release}-dingtalk-operator-receiver`) as unknown as {
      rules: { resources: string[]; verbs: string[] }[];
    };
    expect(receiverRole.rules.map((r) => `${r.verbs.join(',')} ${r.resources.join(',')}`)).toEqual([
      'create tokenreviews',
      'create subjectaccessreviews',
      'create,patch alarmevents',
      'create events',
    ]);
    // The Service sends alarms to receiver pods only, never to the operator's.
    const service = find(objects, 'Service', `${release}-dingtalk-operator-receiver`) as unknown as {
      spec: { selector: Record<string, string> };
    };
    const operatorPods = find(objects, 'Deployment', `${release}-dingtalk-operator`) as unknown as {
      spec: { template: { metadata: { labels: Record<string, string> } } };
    };
    const labels = operatorPods.spec.template.metadata.labels;
    expect(Object.entries(service.spec.selector).every(([key, value]) => labels[key] === value)).toBe(false);
  });

  it('with watched namespaces, grants the namespaced rules by a Role in each of them only', async () => {
    const names = watched.map((ns) => ns.name);
    const yaml = await renderChart({
      release: `${release}-ns`,
      namespace: namespace.name,
      set: [`watchNamespaces={${names.join(',')}}`, 'networkPolicy.enabled=true'],
    });
    const objects = parseManifests(yaml);
    // Only the receiver's cluster-scoped reviews are left in a ClusterRole.
    const clusterRoles = objects.filter((o) => o.kind === 'ClusterRole') as unknown as {
      metadata: { name: string };
      rules: { apiGroups: string[] }[];
    }[];
    expect(clusterRoles.map((role) => role.metadata.name)).toEqual([
      `${release}-ns-dingtalk-operator-receiver`,
    ]);
    expect(clusterRoles[0]?.rules.flatMap((rule) => rule.apiGroups).sort()).toEqual([
      'authentication.k8s.io',
      'authorization.k8s.io',
    ]);
    const roles = objects.filter((o) => o.kind === 'Role' && !o.metadata.name.endsWith('-leader-election'));
    expect(roles.map((role) => role.metadata.namespace).sort()).toEqual([...names, ...names].sort());
    expect(containers(yaml).find((c) => c.name === 'operator')?.args).toContain(
      `--namespaces=${names.join(',')}`,
    );
    const applied = await kubectl(['apply', '--dry-run=server', '-f', '-'], yaml);
    expect(applied).toMatch(/networkpolicy\.networking\.k8s\.io\/\S+ created \(server dry run\)/);
    expect(applied.match(/^rolebinding\.rbac\.authorization\.k8s\.io\/\S+ created/gm)).toHaveLength(5);
  });

  it('grants Secrets and ConfigMaps cluster-wide by default, and with secretAccess=namespaces only by RoleBindings', async () => {
    const secretRules = (role: KubeObjectWithRules | undefined) =>
      (role?.rules ?? []).filter((rule) => rule.resources.some((r) => r === 'secrets' || r === 'configmaps'));
    const clusterRole = (objects: KubeObject[], name: string) =>
      objects.find((o) => o.kind === 'ClusterRole' && o.metadata.name === name) as
        | KubeObjectWithRules
        | undefined;

    const byDefault = parseManifests(await renderChart({ release, namespace: namespace.name }));
    expect(secretRules(clusterRole(byDefault, `${release}-dingtalk-operator`)).map((r) => r.verbs)).toEqual([
      ['get'],
      ['watch'],
    ]);
    expect(clusterRole(byDefault, `${release}-dingtalk-operator-secrets`)).toBeUndefined();
    expect(
      containers(await renderChart({ release, namespace: namespace.name }))[0]?.args.join(' '),
    ).not.toMatch(/--secret-access-role/);

    const names = watched.map((ns) => ns.name);
    const yaml = await renderChart({
      release: `${release}-sa`,
      namespace: namespace.name,
      set: ['secretAccess=namespaces', `secretNamespaces={${names.join(',')}}`],
    });
    const objects = parseManifests(yaml);
    const role = `${release}-sa-dingtalk-operator-secrets`;
    expect(secretRules(clusterRole(objects, `${release}-sa-dingtalk-operator`))).toEqual([]);
    expect(secretRules(clusterRole(objects, role)).map((r) => r.verbs)).toEqual([['get'], ['watch']]);
    const bindings = objects.filter(
      (o) => o.kind === 'RoleBinding' && o.metadata.name === role,
    ) as unknown as {
      metadata: { namespace: string };
      roleRef: { kind: string; name: string };
    }[];
    expect(bindings.map((b) => b.metadata.namespace).sort()).toEqual([...names].sort());
    for (const binding of bindings)
      expect(binding.roleRef).toMatchObject({ kind: 'ClusterRole', name: role });
    const operator = containers(yaml).find((c) => c.name === 'operator');
    expect(operator?.args).toContain(`--secret-access-role=${role}`);
    expect(operator?.args).toContain(`--service-account=${namespace.name}:${release}-sa-dingtalk-operator`);
    expect(() => loadConfig({ argv: operator?.args.slice(1) ?? [], env: {} })).not.toThrow();
    const applied = await kubectl(['apply', '--dry-run=server', '-f', '-'], yaml);
    expect(
      applied.match(new RegExp(`^rolebinding\\.rbac\\.authorization\\.k8s\\.io/${role} created`, 'gm')),
    ).toHaveLength(2);
  });

  it("renders a ServiceMonitor for the operator's and the receiver's metrics when asked", async () => {
    const objects = parseManifests(
      await renderChart({ release, namespace: namespace.name, set: ['serviceMonitor.enabled=true'] }),
    );
    const monitor = find(objects, 'ServiceMonitor') as unknown as {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string }[] };
    };
    for (const name of [`${release}-dingtalk-operator-metrics`, `${release}-dingtalk-operator-receiver`]) {
      const service = find(objects, 'Service', name);
      expect(service.metadata.labels, name).toMatchObject(monitor.spec.selector.matchLabels);
      expect(['metrics', 'receiver']).toContain(service.metadata.labels?.['app.kubernetes.io/component']);
    }
    expect(monitor.spec.endpoints).toEqual([
      { port: 'metrics', path: '/metrics', interval: '30s' },
      { port: 'http', path: '/metrics', interval: '30s' },
    ]);
  });

  it("renders the operator's alerts and its Grafana dashboard only when asked, as the files under test", async () => {
    const plain = parseManifests(await renderChart({ release, namespace: namespace.name }));
    expect(plain.map((object) => object.kind)).not.toContain('PrometheusRule');
    expect(plain.filter((object) => object.metadata.labels?.grafana_dashboard)).toEqual([]);

    const objects = parseManifests(
      await renderChart({
        release,
        namespace: namespace.name,
        set: ['prometheusRule.enabled=true', 'grafanaDashboard.enabled=true'],
      }),
    );
    const rule = find(objects, 'PrometheusRule', `${release}-dingtalk-operator`);
    expect(rule.spec).toEqual(parse(readFileSync(path.join(chartDir, 'files/alerts.yaml'), 'utf8')));
    const dashboard = find(objects, 'ConfigMap', `${release}-dingtalk-operator-dashboard`);
    expect(dashboard.metadata.labels?.grafana_dashboard).toBe('1');
    const { data } = dashboard as unknown as { data: Record<string, string> };
    expect(JSON.parse(data['dingtalk-operator.json'] ?? '')).toEqual(
      JSON.parse(readFileSync(path.join(chartDir, 'files/dashboard.json'), 'utf8')),
    );
  });
});
