import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { crdFiles, customResourceDefinitions } from './crds.ts';
import type { JsonSchema } from './structural-schema.ts';

const crdDir = path.resolve(import.meta.dirname, '../../crds');

function walk(node: JsonSchema, at: string, visit: (node: JsonSchema, at: string) => void) {
  visit(node, at);
  for (const [name, child] of Object.entries((node.properties ?? {}) as Record<string, JsonSchema>)) {
    walk(child, `${at}.${name}`, visit);
  }
  if (node.items) walk(node.items as JsonSchema, `${at}[*]`, visit);
  if (typeof node.additionalProperties === 'object')
    walk(node.additionalProperties as JsonSchema, `${at}.*`, visit);
}

describe('CRDs', () => {
  it('committed crds/ match the zod schemas (run `npm run crds` after changing operator/api)', () => {
    const expected = crdFiles();
    const committed = readdirSync(crdDir).filter((name) => name.endsWith('.yaml'));
    expect(committed.sort()).toEqual([...expected.keys()].sort());
    for (const [name, text] of expected) {
      expect(readFileSync(path.join(crdDir, name), 'utf8'), `crds/${name} is stale`).toBe(text);
    }
  });

  it('are namespaced, labelled, categorised, short-named and have a status subresource', () => {
    const crds = customResourceDefinitions();
    expect(crds.map((crd) => crd.metadata.name)).toEqual([
      'dingtalkservices.dingtalk.alarming.io',
      'alarmrules.dingtalk.alarming.io',
      'alarmevents.dingtalk.alarming.io',
    ]);
    expect(crds.map((crd) => crd.spec.names.shortNames)).toEqual([['dts'], ['ar'], ['ae']]);
    for (const crd of crds) {
      expect(crd.metadata.labels).toEqual({ 'app.kubernetes.io/part-of': 'dingtalk-operator' });
      expect(crd.spec.scope).toBe('Namespaced');
      expect(crd.spec.names.categories).toEqual(['dingtalk', 'alarming']);
      expect(crd.spec.versions[0].subresources).toEqual({ status: {} });
    }
  });

  it('show Ready and Reason for services and rules, Severity, State, Phase and who acknowledged for events', () => {
    const columns = customResourceDefinitions().map((crd) =>
      crd.spec.versions[0].additionalPrinterColumns.filter((c) => !c.priority).map((c) => c.name),
    );
    expect(columns).toEqual([
      ['Ready', 'Reason', 'Age'],
      ['Ready', 'Reason', 'Age'],
      ['Severity', 'State', 'Phase', 'Ack', 'By', 'Age'],
    ]);
  });

  it('bound every list, string and map, so CEL rules stay within the API server cost budget', () => {
    const unbounded: string[] = [];
    for (const crd of customResourceDefinitions()) {
      const spec = crd.spec.versions[0].schema.openAPIV3Schema.properties as Record<string, JsonSchema>;
      walk(spec.spec, `${crd.spec.names.kind}.spec`, (node, at) => {
        if (node.type === 'array' && node.maxItems === undefined) unbounded.push(at);
        if (node.type === 'string' && node.maxLength === undefined && !node.enum && !node.format)
          unbounded.push(at);
        if (node.type === 'object' && node.additionalProperties && node.maxProperties === undefined)
          unbounded.push(at);
      });
    }
    expect(unbounded).toEqual([]);
  });

  it('keep conditions a list-map keyed by type in every status', () => {
    for (const crd of customResourceDefinitions()) {
      const status = (crd.spec.versions[0].schema.openAPIV3Schema.properties as Record<string, JsonSchema>)
        .status;
      expect((status.properties as Record<string, JsonSchema>).conditions).toMatchObject({
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      });
    }
  });
});
