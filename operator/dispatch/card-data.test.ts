import { describe, expect, it } from 'vitest';
import { maxCardValueBytes } from '../dingtalk/cards.ts';
import { initialCardData, stateData } from './card-data.ts';

const interactive = {
  actions: ['Acknowledge', 'Snooze', 'Resolve'] as const,
  snoozeDurations: ['30m', '2h'],
};
const at = '2026-01-01T00:00:00Z';

describe('card data', () => {
  it('shows a new alarm firing with its title, severity, text and the buttons the rule offers', () => {
    const data = initialCardData({
      content: { type: 'markdown', title: '【CRITICAL】Disk full', text: 'node-3 at 97%' },
      severity: 'critical',
      interactive: { actions: [...interactive.actions], snoozeDurations: interactive.snoozeDurations },
    });
    expect(data).toEqual({
      title: '【CRITICAL】Disk full',
      severity: 'critical',
      text: 'node-3 at 97%',
      state: 'Firing',
      stateText: 'firing: nobody has acknowledged it yet',
      actions: 'Acknowledge,Snooze,Resolve',
      snoozeDurations: '30m,2h',
    });
  });

  it('keeps every value within what DingTalk takes', () => {
    const data = initialCardData({
      content: { type: 'text', content: 'x'.repeat(5000) },
      severity: 'info',
      interactive: { actions: ['Acknowledge'] },
    });
    expect(Buffer.byteLength(data.text ?? '')).toBeLessThanOrEqual(maxCardValueBytes);
    expect(data.snoozeDurations).toBe('');
  });

  it('says who acknowledged, until when it is snoozed and who resolved, with the buttons still useful', () => {
    const rule = { actions: [...interactive.actions], snoozeDurations: interactive.snoozeDurations };
    const by = { userId: 'zhangsan', name: '张三' };
    expect(stateData({ action: 'Acknowledged', by, at, via: 'Card' }, rule)).toEqual({
      state: 'Acknowledged',
      stateText: 'acknowledged by 张三',
      actions: 'Snooze,Resolve',
      snoozeDurations: '30m,2h',
    });
    expect(
      stateData({ action: 'Snoozed', by, at, until: '2026-01-01T00:30:00Z', via: 'Card' }, rule).stateText,
    ).toBe('snoozed until 2026-01-01T00:30:00Z by 张三');
    expect(stateData({ action: 'Resolved', at, via: 'Annotation' }, rule)).toEqual({
      state: 'Resolved',
      stateText: 'resolved by someone at a terminal',
      actions: '',
      snoozeDurations: '',
    });
  });
});
