import { describe, expect, it } from 'vitest';
import { batchSend } from './app-api.ts';
import { createAndDeliverCard, updateCard } from './card-api.ts';
import { createClock } from './clock.ts';
import { readStatus, sendDing } from './ding-api.ts';
import { renderPage } from './page.ts';
import { createWorld } from './world.ts';

function setup() {
  const clock = createClock(() => 1_700_000_000_000);
  const world = createWorld(clock);
  world.putApp('app1', { clientSecret: 's' });
  world.putUser('alice', { name: 'Alice' });
  for (const cid of ['cid1', 'cid2']) world.putAppGroup(cid, { robotCodes: ['app1'], members: ['alice'] });
  const app = world.apps.get('app1');
  return { world, clock, app };
}

const card = (overrides: object = {}) => ({
  outTrackId: 'ae-1',
  cardTemplateId: 'tpl',
  cardData: { cardParamMap: { title: 'disk full', status: 'firing' } },
  callbackType: 'STREAM',
  openSpaceId: 'dtv1.card//IM_GROUP.cid1;IM_ROBOT.alice',
  imGroupOpenDeliverModel: { robotCode: 'app1' },
  imRobotOpenDeliverModel: { spaceType: 'IM_ROBOT' },
  ...overrides,
});

describe('emulated card API', () => {
  it('creates one card per outTrackId: a repeat succeeds, keeps the data and only adds new spaces', () => {
    const { world, app } = setup();
    expect(createAndDeliverCard(world, app, card()).status).toBe(200);
    const again = createAndDeliverCard(
      world,
      app,
      card({ cardData: { cardParamMap: { title: 'other' } }, openSpaceId: 'dtv1.card//IM_GROUP.cid2' }),
    );
    expect(again).toMatchObject({ status: 200, body: { success: true, result: { outTrackId: 'ae-1' } } });
    expect(world.cards.size).toBe(1);
    expect(world.cards.get('ae-1')).toMatchObject({
      cardParamMap: { title: 'disk full' },
      spaces: ['IM_GROUP.cid1', 'IM_ROBOT.alice', 'IM_GROUP.cid2'],
    });
    expect(world.stats.cardCalls).toEqual({ app1: 2 });
  });

  it('reports a member it cannot deliver to without failing the others', () => {
    const { world, app } = setup();
    const answer = createAndDeliverCard(
      world,
      app,
      card({ openSpaceId: 'dtv1.card//IM_ROBOT.alice;IM_ROBOT.bob' }),
    );
    expect(answer.body.result).toMatchObject({
      deliverResults: [
        { spaceId: 'alice', success: true },
        { spaceId: 'bob', success: false },
      ],
    });
  });

  it('refuses a group delivery without the app robot, and malformed open spaces', () => {
    const { world, app } = setup();
    expect(createAndDeliverCard(world, app, card({ imGroupOpenDeliverModel: {} })).body.code).toBe(
      'invalidParameter.robotCode.invalid',
    );
    expect(createAndDeliverCard(world, app, card({ openSpaceId: 'IM_GROUP.cid1' })).body.code).toBe(
      'invalidParameter.openSpaceId.invalid',
    );
  });

  it("refuses a card to a group the app's robot is not in, or that it does not know, and makes none", () => {
    const { world, app } = setup();
    world.putAppGroup('cid3', { robotCodes: ['another-app'], members: ['alice'] });
    for (const cid of ['cid3', 'cid-unknown']) {
      const answer = createAndDeliverCard(world, app, card({ openSpaceId: `dtv1.card//IM_GROUP.${cid}` }));
      expect(answer).toMatchObject({ status: 400, body: { code: 'invalid.openConversationId' } });
    }
    expect(world.cards.size).toBe(0);
  });

  it('updates in place, replacing the data or merging it by key, and keeps the history', () => {
    const { world, app } = setup();
    createAndDeliverCard(world, app, card());
    updateCard(world, app, { outTrackId: 'ae-1', cardData: { cardParamMap: { status: 'acked' } } });
    expect(world.cards.get('ae-1')?.cardParamMap).toEqual({ status: 'acked' });
    updateCard(world, app, {
      outTrackId: 'ae-1',
      cardData: { cardParamMap: { by: 'alice' } },
      cardUpdateOptions: { updateCardDataByKey: true },
    });
    expect(world.cards.get('ae-1')?.cardParamMap).toEqual({ status: 'acked', by: 'alice' });
    expect(world.cards.get('ae-1')?.history.map((version) => version.by)).toEqual([
      'create',
      'update',
      'update',
    ]);
  });

  it('refuses a value over 1 KB, a non-string value and an unknown card', () => {
    const { world, app } = setup();
    createAndDeliverCard(world, app, card());
    const long = updateCard(world, app, {
      outTrackId: 'ae-1',
      cardData: { cardParamMap: { note: 'x'.repeat(1025) } },
    });
    expect(long).toMatchObject({ status: 400, body: { code: 'invalidParameter.cardParamMap.valueTooLong' } });
    const number = updateCard(world, app, { outTrackId: 'ae-1', cardData: { cardParamMap: { n: 1 } } });
    expect(number.body.code).toBe('invalidParameter.cardParamMap.invalid');
    expect(updateCard(world, app, { outTrackId: 'nope', cardData: {} }).body.code).toBe(
      'invalidParameter.outTrackId.notExist',
    );
    expect(world.cards.get('ae-1')?.history).toHaveLength(1);
  });
});

describe('emulated DING and read status', () => {
  it('records an in-app DING, listing unknown receivers as failed', () => {
    const { world, app } = setup();
    const answer = sendDing(world, app, {
      robotCode: 'app1',
      receiverUserIdList: ['alice', 'bob'],
      content: 'disk full',
      remindType: 1,
    });
    expect(answer.body.failedList).toEqual({ bob: 'user not found' });
    expect(world.dings).toMatchObject([{ receiverUserIds: ['alice'], remindType: 1 }]);
    expect(renderPage(world)).toContain('<p>disk full</p><div class="mention">@alice</div>');
  });

  it('refuses phone DING to an org without the pack', () => {
    const { world, app } = setup();
    const answer = sendDing(world, app, {
      robotCode: 'app1',
      receiverUserIdList: ['alice'],
      content: 'x',
      remindType: 3,
    });
    expect(answer).toMatchObject({ status: 403, body: { code: 'ding.serverquota.insufficient' } });
  });

  it('tells who has read a one-to-one message, for 24 hours', () => {
    const { world, app, clock } = setup();
    const sent = batchSend(world, app, {
      robotCode: 'app1',
      userIds: ['alice'],
      msgKey: 'sampleText',
      msgParam: JSON.stringify({ content: 'disk full' }),
    });
    const query = new URLSearchParams({
      robotCode: 'app1',
      processQueryKey: String(sent.body.processQueryKey),
    });
    expect(readStatus(world, app, query).body.messageReadInfoList).toEqual([
      { userId: 'alice', name: 'Alice', readStatus: 'UNREAD' },
    ]);
    world.markRead('alice');
    expect(readStatus(world, app, query).body.messageReadInfoList).toMatchObject([{ readStatus: 'READ' }]);
    clock.advance(24 * 60 * 60 * 1000 + 1);
    expect(readStatus(world, app, query).body.code).toBe('processQueryKey.expireTime');
  });
});
