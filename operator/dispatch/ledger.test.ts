import { describe, expect, it } from 'vitest';
import type { Delivery } from '../api/index.ts';
import { sameDelivery, settle, summarize } from './ledger.ts';

const entry = (over: Partial<Delivery>): Delivery => ({
  ruleNamespace: 'team-a',
  rule: 'r',
  service: 's',
  targetKind: 'Group',
  targetName: 'ops',
  state: 'Pending',
  ...over,
});

describe('ledger', () => {
  it('tells entries of equally named rules in two namespaces apart', () => {
    expect(sameDelivery(entry({}), entry({ ruleNamespace: 'team-b' }))).toBe(false);
    expect(sameDelivery(entry({}), entry({ state: 'Delivered' }))).toBe(true);
  });

  it('is Held while held entries wait and nothing else moves, and not finished', () => {
    expect(summarize([entry({ state: 'Held' }), entry({ targetName: 'b', state: 'Delivered' })])).toEqual({
      phase: 'Held',
      finished: false,
    });
    expect(summarize([entry({ state: 'Held' }), entry({ targetName: 'b' })]).phase).toBe('Pending');
  });

  it('says why in the Delivered condition of a held event, with the errcode', () => {
    const status = { deliveries: [entry({ state: 'Held', errcode: '310000' })] };
    settle(status, 1, new Date(0));
    expect(status).toMatchObject({
      phase: 'Held',
      conditions: [
        {
          type: 'Delivered',
          status: 'Unknown',
          reason: 'Held',
          message: expect.stringContaining('errcode 310000'),
        },
      ],
    });
  });

  it('counts a member set some members of which did not get it as partly delivered', () => {
    const members = { total: 3, delivered: 2, failed: 1, chunksDone: 1 };
    expect(
      summarize([entry({ targetKind: 'Member', targetName: 'members', state: 'Delivered', members })]),
    ).toEqual({
      phase: 'PartiallyDelivered',
      finished: true,
    });
  });
});
