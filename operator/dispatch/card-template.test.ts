import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SNOOZE_DURATIONS } from '../api/index.ts';
import { clickAction } from './card-click.ts';
import { initialCardData } from './card-data.ts';

// examples/dingtalk/card-template.json is what a team builds in DingTalk's card platform: it must match what
// the operator fills in and what it understands of a click.
const template = JSON.parse(
  readFileSync(path.resolve(import.meta.dirname, '../../examples/dingtalk/card-template.json'), 'utf8'),
) as {
  variables: Record<string, string>;
  buttons: { label: string; actionId: string; params: Record<string, unknown> }[];
};

describe('the example card template', () => {
  it('declares every variable the card data fills, and no other', () => {
    const data = initialCardData({
      content: { type: 'markdown', title: 't', text: 'x' },
      severity: 'critical',
      interactive: { actions: ['Acknowledge', 'Snooze', 'Resolve'] },
    });
    expect(Object.keys(template.variables).sort()).toEqual(Object.keys(data).sort());
  });

  it('has buttons for each action, snoozing for the default duration', () => {
    const clicks = template.buttons.map((b) => clickAction({ actionIds: [b.actionId], params: b.params }));
    expect(clicks).toEqual([
      { action: 'Acknowledge' },
      { action: 'Snooze', snooze: DEFAULT_SNOOZE_DURATIONS[0] },
      { action: 'Resolve' },
    ]);
  });
});
