import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAlarmEvent, parseAlarmRule, parseDingTalkService } from '../../operator/api/parse.ts';
import { createTestNamespace, kubectl } from '../support/kube.ts';
import { invalidObjects } from './invalid-objects.ts';

const parsers: Record<string, (obj: unknown) => unknown> = {
  DingTalkService: parseDingTalkService,
  AlarmRule: parseAlarmRule,
  AlarmEvent: parseAlarmEvent,
};

let namespace: Awaited<ReturnType<typeof createTestNamespace>>;
beforeAll(async () => {
  namespace = await createTestNamespace('api-invalid');
});
afterAll(() => namespace.cleanup());

function manifest({ kind, spec }: { kind: string; spec?: Record<string, unknown> }, index: number) {
  return { apiVersion: 'dingtalk.alarming.io/v1alpha1', kind, metadata: { name: `invalid-${index}` }, spec };
}

async function serverRejection(obj: object): Promise<string> {
  try {
    await kubectl(['create', '-n', namespace.name, '-f', '-'], JSON.stringify(obj));
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? err);
  }
  throw new Error('the API server accepted it');
}

describe('the API server rejects invalid objects, naming the offending field', () => {
  it('covers at least 25 cases', () => {
    expect(invalidObjects.length).toBeGreaterThanOrEqual(25);
  });

  it.each(invalidObjects.map((c, index) => [c.name, c, index] as const))('%s', async (_, c, index) => {
    const obj = manifest(c.object, index);
    const message = await serverRejection(obj);
    expect(message).toContain(c.field);
    if (c.says) expect(message).toContain(c.says);

    if (!c.serverOnly) {
      expect(() => parsers[c.object.kind](obj), 'the parse helper agrees with the API server').toThrow(
        c.field,
      );
    }
  });
});
