import { describe, expect, it } from 'vitest';
import { RateBudget } from './rate-budget.ts';

describe('RateBudget', () => {
  it('allows `limit` sends per window, counting in-flight sends and freeing a slot a window after a send finished', () => {
    const budget = new RateBudget({ limit: 2, windowMs: 60_000, marginMs: 500 });
    const first = budget.begin();
    expect(budget.available(0)).toBe(1);
    first(1_000);
    budget.begin()(2_000);
    expect(budget.available(3_000)).toBe(0);
    expect(budget.nextSlotAt(3_000)).toBe(61_500);
    expect(budget.available(61_499)).toBe(0);
    expect(budget.available(61_500)).toBe(1);
  });

  it('counts sends recorded from a previous run', () => {
    const budget = new RateBudget({ limit: 20, windowMs: 60_000 });
    for (let i = 0; i < 20; i++) budget.record(0);
    expect(budget.available(59_000)).toBe(0);
  });
});
