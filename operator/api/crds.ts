import { stringify } from 'yaml';
import { alarmEventDefinition } from './alarm-event.ts';
import { alarmRuleDefinition } from './alarm-rule.ts';
import { dingTalkServiceDefinition } from './dingtalk-service.ts';
import { CATEGORIES, PART_OF_LABEL } from './group.ts';
import type { KindDefinition } from './resource.ts';
import { type JsonSchema, toStructuralSchema } from './structural-schema.ts';

export const KIND_DEFINITIONS: readonly KindDefinition[] = [
  dingTalkServiceDefinition,
  alarmRuleDefinition,
  alarmEventDefinition,
];

/** The CustomResourceDefinition of one kind, as a plain object ready to apply or serialise. */
export function customResourceDefinition(definition: KindDefinition) {
  const { group, version, kind, listKind, plural, singular, shortNames } = definition;
  const openAPIV3Schema: JsonSchema = {
    type: 'object',
    description: definition.description,
    properties: {
      apiVersion: {
        type: 'string',
        description: 'Versioned schema of this object: dingtalk.alarming.io/v1alpha1.',
      },
      kind: { type: 'string', description: `Kind of this object: ${kind}.` },
      metadata: { type: 'object' },
      spec: toStructuralSchema(definition.spec),
      status: {
        ...toStructuralSchema(definition.status),
        description: 'Observed state, written by the operator.',
      },
    },
    required: ['spec'],
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}`, labels: { ...PART_OF_LABEL } },
    spec: {
      group,
      scope: 'Namespaced',
      names: { kind, listKind, plural, singular, shortNames, categories: [...CATEGORIES] },
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: definition.printerColumns,
          schema: { openAPIV3Schema },
        },
      ],
    },
  };
}

/** Every CRD of the operator. */
export function customResourceDefinitions() {
  return KIND_DEFINITIONS.map(customResourceDefinition);
}

const HEADER = '# Generated from the zod schemas in operator/api by `npm run crds`; do not edit.\n';

/** The committed files under crds/: file name → YAML text. */
export function crdFiles(): Map<string, string> {
  return new Map(
    customResourceDefinitions().map((crd) => [
      `${crd.metadata.name}.yaml`,
      HEADER + stringify(crd, { lineWidth: 0 }),
    ]),
  );
}
