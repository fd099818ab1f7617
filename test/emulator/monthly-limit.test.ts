import { describe, expect, it } from 'vitest';
import { batchSend } from './app-api.ts';
import { createAndDeliverCard } from './card-api.ts';
import { createClock } from './clock.ts';
import { sendDing } from './ding-api.ts';
import { createWorld } from './world.ts';

describe("an emulated app's monthly API limit", () => {
  it('is spent by batchSend, cards and DING alike, refused calls included, until the month turns', () => {
    const world = createWorld(createClock(() => Date.parse('2026-12-31T15:00:00Z')));
    world.putApp('app1', { clientSecret: 's', monthlyLimit: 2 });
    const app = world.apps.get('app1');
    const code = (answer: { status: number; body: unknown }) =>
      `${answer.status} ${(answer.body as { code?: string }).code ?? ''}`;
    expect(code(createAndDeliverCard(world, app, {}))).toMatch(/^400 /);
    expect(code(batchSend(world, app, {}))).toMatch(/^400 /);
    const spent = '403 Forbidden.AccessDenied.ApiCountLimitForOrg';
    expect([createAndDeliverCard, batchSend, sendDing].map((call) => code(call(world, app, {})))).toEqual([
      spent,
      spent,
      spent,
    ]);
    world.clock.advance(3_600_000);
    expect(code(batchSend(world, app, {}))).toMatch(/^400 /);
  });
});
