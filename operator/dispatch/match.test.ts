import { describe, expect, it } from 'vitest';
import { alarm } from '../../test/support/alarms.ts';
import { matchesRule, selectorMatches } from './match.ts';

describe('matchesRule', () => {
  it("matches alarms of the rule's own namespace only", () => {
    expect(matchesRule({}, 'ns', alarm('a'))).toBe(true);
    expect(matchesRule({}, 'other', alarm('a'))).toBe(false);
  });

  it('requires severity, source and labels to hold together', () => {
    const a = alarm('a', { severity: 'critical', source: 'alertmanager', labels: { team: 'db' } });
    expect(matchesRule({ severities: ['critical'], sources: ['alertmanager'] }, 'ns', a)).toBe(true);
    expect(matchesRule({ severities: ['info'] }, 'ns', a)).toBe(false);
    expect(matchesRule({ sources: ['grafana'] }, 'ns', a)).toBe(false);
    expect(matchesRule({ labels: { matchLabels: { team: 'web' } } }, 'ns', a)).toBe(false);
  });
});

describe('selectorMatches', () => {
  it('implements In, NotIn, Exists and DoesNotExist as Kubernetes does', () => {
    const labels = { env: 'prod', team: 'db' };
    const expr = (operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist', key: string, values?: string[]) =>
      selectorMatches({ matchExpressions: [{ key, operator, values }] }, labels);
    expect(expr('In', 'env', ['prod', 'staging'])).toBe(true);
    expect(expr('In', 'missing', ['x'])).toBe(false);
    expect(expr('NotIn', 'env', ['prod'])).toBe(false);
    expect(expr('NotIn', 'missing', ['x'])).toBe(true);
    expect(expr('Exists', 'team')).toBe(true);
    expect(expr('DoesNotExist', 'team')).toBe(false);
  });
});
