import { describe, expect, it } from 'vitest';
import {
  type Conditioned,
  ConditionType,
  get,
  isReady,
  MAX_MESSAGE_BYTES,
  markFalse,
  markReconciling,
  markStalled,
  markTrue,
  remove,
} from './conditions.ts';

const t0 = new Date('2026-01-01T00:00:00.123Z');
const t1 = new Date('2026-01-01T00:05:00Z');

function object(generation = 1): Conditioned {
  return { metadata: { generation } };
}

describe('conditions', () => {
  it('stamps lastTransitionTime in seconds and the object generation on a new condition', () => {
    const obj = object(3);
    markTrue(obj, 'Ready', 'Succeeded', 'all good', t0);
    expect(get(obj, 'Ready')).toEqual({
      type: 'Ready',
      status: 'True',
      reason: 'Succeeded',
      message: 'all good',
      lastTransitionTime: '2026-01-01T00:00:00Z',
      observedGeneration: 3,
    });
    expect(isReady(obj)).toBe(true);
  });

  it('keeps lastTransitionTime when only reason or message change', () => {
    const obj = object();
    markFalse(obj, 'Ready', 'SecretNotFound', 'secret a missing', t0);
    markFalse(obj, 'Ready', 'SecretKeyNotFound', 'key b missing', t1);
    expect(get(obj, 'Ready')).toMatchObject({
      reason: 'SecretKeyNotFound',
      message: 'key b missing',
      lastTransitionTime: '2026-01-01T00:00:00Z',
    });
  });

  it('moves lastTransitionTime when the status flips', () => {
    const obj = object();
    markFalse(obj, 'Ready', 'Failed', 'no', t0);
    markTrue(obj, 'Ready', 'Succeeded', 'yes', t1);
    expect(get(obj, 'Ready')?.lastTransitionTime).toBe('2026-01-01T00:05:00Z');
  });

  it('updates observedGeneration on every set, even without a transition', () => {
    const obj = object(1);
    markTrue(obj, 'Ready', 'Succeeded', 'ok', t0);
    obj.metadata = { generation: 2 };
    markTrue(obj, 'Ready', 'Succeeded', 'ok', t1);
    expect(get(obj, 'Ready')).toMatchObject({
      observedGeneration: 2,
      lastTransitionTime: '2026-01-01T00:00:00Z',
    });
  });

  it('orders Ready, Reconciling, Stalled first and the rest by type', () => {
    const obj = object();
    markTrue(obj, 'CredentialsValid', 'Valid', '', t0);
    markTrue(obj, 'Alpha', 'Valid', '', t0);
    markReconciling(obj, 'Progressing', 'working', t0);
    markFalse(obj, 'Ready', 'Progressing', 'working', t0);
    expect(obj.status?.conditions?.map((c) => c.type)).toEqual([
      'Ready',
      'Reconciling',
      'Alpha',
      'CredentialsValid',
    ]);
  });

  it('markStalled removes Reconciling and markReconciling removes Stalled', () => {
    const obj = object();
    markReconciling(obj, 'Progressing', 'working', t0);
    markStalled(obj, 'InvalidSpec', 'bad spec', t0);
    expect(get(obj, ConditionType.Reconciling)).toBeUndefined();
    expect(get(obj, ConditionType.Stalled)?.status).toBe('True');
    markReconciling(obj, 'Progressing', 'again', t1);
    expect(get(obj, ConditionType.Stalled)).toBeUndefined();
  });

  it('remove deletes only the named condition', () => {
    const obj = object();
    markTrue(obj, 'Ready', 'Succeeded', '', t0);
    markTrue(obj, 'Other', 'Succeeded', '', t0);
    remove(obj, 'Other');
    expect(obj.status?.conditions?.map((c) => c.type)).toEqual(['Ready']);
  });

  it('trims long messages to 32 KiB of UTF-8 without splitting characters', () => {
    const obj = object();
    markFalse(obj, 'Ready', 'Failed', '钉'.repeat(20_000), t0);
    const message = get(obj, 'Ready')?.message ?? '';
    expect(Buffer.byteLength(message)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(message.endsWith('钉…')).toBe(true);
  });

  it('rejects a reason the API server would reject', () => {
    expect(() => markTrue(object(), 'Ready', 'not a reason', '')).toThrow(/reason/);
  });
});
