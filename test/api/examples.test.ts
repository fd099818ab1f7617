import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNamespace, kubectl } from '../support/kube.ts';

const examplesDir = path.resolve(import.meta.dirname, '../../examples');
// examples/alertmanager/ holds Alertmanager configuration, not Kubernetes objects: there is nothing to apply.
// examples/argocd/ needs Argo CD's CRDs, absent here; test/packaging/argocd.test.ts checks it instead.
// examples/dingtalk/ holds what a team creates in DingTalk's own consoles (the card template), checked by
// operator/dispatch/card-template.test.ts.
const NOT_KUBERNETES = new Set(['alertmanager', 'argocd', 'dingtalk']);

const files = readdirSync(examplesDir, { recursive: true, withFileTypes: true })
  .filter((entry) => entry.isFile())
  .map((entry) => path.relative(examplesDir, path.join(entry.parentPath, entry.name)))
  .filter((file) => !NOT_KUBERNETES.has(file.split(path.sep)[0]))
  .sort();

let namespace: Awaited<ReturnType<typeof createTestNamespace>>;
beforeAll(async () => {
  namespace = await createTestNamespace('api-examples');
});
afterAll(() => namespace.cleanup());

describe('examples/', () => {
  it('holds only YAML manifests outside examples/alertmanager, argocd and dingtalk', () => {
    expect(files.length).toBeGreaterThanOrEqual(9);
    expect(files.filter((file) => !file.endsWith('.yaml'))).toEqual([]);
  });

  // Tests in a file run in order, so the later checks read what the applied files created.
  describe('every file applies', () => {
    it.each(files)('%s, first as a server-side dry run, then for real', async (file) => {
      const args = ['apply', '-n', namespace.name, '-f', path.join(examplesDir, file)];
      expect(await kubectl([...args, '--dry-run=server'])).toMatch(/\(server dry run\)/);
      expect(await kubectl(args)).toMatch(/created|configured|unchanged/);
    });

    it('and `kubectl get dingtalk` lists all three kinds with their columns', async () => {
      const output = await kubectl(['get', 'dingtalk', '-n', namespace.name]);
      expect(output).toMatch(/^NAME\s+READY\s+REASON\s+AGE$/m);
      expect(output).toMatch(/^NAME\s+SEVERITY\s+STATE\s+PHASE\s+ACK\s+BY\s+AGE$/m);
      expect(output).toMatch(/^dingtalkservice\.dingtalk\.alarming\.io\/ops-groups\s/m);
      expect(output).toMatch(/^alarmrule\.dingtalk\.alarming\.io\/critical-to-oncall\s/m);
      expect(output).toMatch(/^alarmevent\.dingtalk\.alarming\.io\/disk-full-node-3\s+critical\s+firing\s/m);
      expect(output).toMatch(
        /^alarmevent\.dingtalk\.alarming\.io\/disk-full-node-3-resolved\s+critical\s+resolved\s/m,
      );
    });

    it('and the short names and the alarming category work too', async () => {
      const names = async (resource: string) =>
        (await kubectl(['get', resource, '-n', namespace.name, '-o', 'name'])).trim().split('\n');
      const byShortName = [...(await names('dts')), ...(await names('ar')), ...(await names('ae'))];
      expect(byShortName).toEqual(
        expect.arrayContaining([
          'dingtalkservice.dingtalk.alarming.io/oncall-members',
          'alarmrule.dingtalk.alarming.io/warnings-digest',
          'alarmevent.dingtalk.alarming.io/disk-full-node-3',
        ]),
      );
      expect((await names('alarming')).sort()).toEqual(byShortName.sort());
    });

    it('and the API server filled in the documented defaults', async () => {
      const rule = JSON.parse(
        await kubectl(['get', 'ar', 'business-hours', '-n', namespace.name, '-o', 'json']),
      );
      expect(rule.spec.grouping).toEqual({
        groupWait: '30s',
        groupInterval: '5m',
        repeatInterval: '4h',
        sendResolved: true,
      });
      expect(rule.spec.suspend).toBe(false);
      const service = JSON.parse(
        await kubectl(['get', 'dts', 'ops-groups', '-n', namespace.name, '-o', 'json']),
      );
      expect(service.spec.groups.map((g: { rateLimitPerMinute: number }) => g.rateLimitPerMinute)).toEqual([
        20, 10,
      ]);
    });
  });
});
