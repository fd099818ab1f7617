import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../../test/emulator/server.ts';
import { checkCardParamMap, deliveryBody } from './cards.ts';
import { createDingTalkClient, type DingTalkClient } from './client.ts';
import { DingTalkError } from './errors.ts';

const app = { clientId: 'app1', clientSecret: 'secret' };
const delivery = {
  outTrackId: 'ae-1',
  cardTemplateId: 'tpl',
  cardParamMap: { title: 'disk full', status: 'firing' },
  openConversationId: 'cid1',
  userIds: ['alice'],
};

describe('card bodies', () => {
  it('names the group and each member once in one openSpaceId, with the robot for each', () => {
    const body = deliveryBody(app, {
      ...delivery,
      userIds: ['alice', 'bob', 'alice'],
      atUserIds: { alice: 'Alice' },
    });
    expect(body).toMatchObject({
      callbackType: 'STREAM',
      openSpaceId: 'dtv1.card//IM_GROUP.cid1;IM_ROBOT.alice;IM_ROBOT.bob',
      imGroupOpenDeliverModel: { robotCode: 'app1', atUserIds: { alice: 'Alice' } },
      imRobotOpenDeliverModel: { spaceType: 'IM_ROBOT', robotCode: 'app1' },
    });
  });

  it('refuses a card with nowhere to go', () => {
    expect(() => deliveryBody(app, { ...delivery, openConversationId: undefined, userIds: [] })).toThrow(
      /needs a group .* or members/,
    );
  });

  it('names the key whose value is over 1 KB, counting bytes, not characters', () => {
    expect(() => checkCardParamMap({ note: '告'.repeat(342) }, 'card.update')).toThrow(
      'card.update: card value of "note" is 1026 bytes; DingTalk takes at most 1024',
    );
    expect(() => checkCardParamMap({ note: 'x'.repeat(1024) }, 'card.update')).not.toThrow();
  });
});

describe('cards, DING and read status against the emulator', () => {
  let emulator: RunningEmulator;
  let client: DingTalkClient;
  beforeAll(async () => {
    emulator = await startEmulator();
    client = createDingTalkClient({ apiBaseUrl: emulator.url, oapiBaseUrl: emulator.url });
  });
  beforeEach(async () => {
    await emulator.control.reset();
    await emulator.control.putApp('app1', { clientSecret: 'secret' });
    await emulator.control.putUser('alice', { name: 'Alice' });
    await emulator.control.putAppGroup('cid1', { robotCodes: ['app1'], members: ['alice'] });
  });
  afterAll(async () => {
    await client.close();
    await emulator.close();
  });

  it('creates a card once per outTrackId, however often it is sent', async () => {
    const first = await client.cards.createAndDeliver(app, delivery);
    const again = await client.cards.createAndDeliver(app, {
      ...delivery,
      cardParamMap: { title: 'changed' },
    });
    expect(first.delivered).toEqual([
      { spaceType: 'IM_GROUP', spaceId: 'cid1' },
      { spaceType: 'IM_ROBOT', spaceId: 'alice' },
    ]);
    expect(again.delivered).toEqual(first.delivered);
    const cards = await emulator.control.cards();
    expect(cards).toHaveLength(1);
    expect(cards[0]?.cardParamMap).toEqual({ title: 'disk full', status: 'firing' });
  });

  it('reports members it could not deliver to', async () => {
    const result = await client.cards.createAndDeliver(app, { ...delivery, userIds: ['alice', 'bob'] });
    expect(result.failed).toMatchObject([{ spaceType: 'IM_ROBOT', spaceId: 'bob' }]);
  });

  it('updates the card in place, by key or whole', async () => {
    await client.cards.createAndDeliver(app, delivery);
    await client.cards.update(app, {
      outTrackId: 'ae-1',
      cardParamMap: { status: 'acknowledged' },
      byKey: true,
    });
    expect((await emulator.control.cards())[0]?.cardParamMap).toEqual({
      title: 'disk full',
      status: 'acknowledged',
    });
    await client.cards.update(app, { outTrackId: 'ae-1', cardParamMap: { status: 'resolved' } });
    expect((await emulator.control.cards())[0]?.cardParamMap).toEqual({ status: 'resolved' });
  });

  it('refuses a value over 1 KB with a clear permanent error before calling DingTalk', async () => {
    await client.cards.createAndDeliver(app, delivery);
    const update = client.cards.update(app, { outTrackId: 'ae-1', cardParamMap: { note: 'x'.repeat(1025) } });
    await expect(update).rejects.toMatchObject({
      errorClass: 'permanent',
      message: 'card.update: card value of "note" is 1025 bytes; DingTalk takes at most 1024',
    });
    expect((await emulator.control.stats()).cardCalls).toEqual({ app1: 1 });
  });

  it('classifies DingTalk refusals: an unknown card is permanent, throttling is throttled', async () => {
    const unknown = await client.cards.update(app, { outTrackId: 'nope', cardParamMap: {} }).catch((e) => e);
    expect(unknown).toBeInstanceOf(DingTalkError);
    expect(unknown).toMatchObject({
      errorClass: 'permanent',
      errcode: 'invalidParameter.outTrackId.notExist',
    });
    await emulator.control.setFault({ app: 'app1' }, { kind: 'throttle', times: 1 });
    await expect(client.cards.createAndDeliver(app, delivery)).rejects.toMatchObject({
      errorClass: 'throttled',
    });
  });

  it('sends an in-app DING and reads who has read a one-to-one message', async () => {
    const ding = await client.cards.sendDing(app, { userIds: ['alice', 'bob'], content: 'disk full' });
    expect(ding.failedUserIds).toEqual(['bob']);
    expect(await emulator.control.dings()).toMatchObject([{ receiverUserIds: ['alice'], remindType: 1 }]);
    await expect(
      client.cards.sendDing(app, { userIds: ['alice'], content: 'x', remindType: 'call' }),
    ).rejects.toMatchObject({ errorClass: 'permanent', errcode: 'ding.serverquota.insufficient' });

    const sent = await client.sendToMembers(app, ['alice'], { type: 'text', content: 'disk full' });
    const [key] = sent.processQueryKeys;
    expect(await client.cards.readStatus(app, key as string)).toEqual([
      { userId: 'alice', name: 'Alice', read: false, readAt: undefined },
    ]);
    await emulator.control.markRead('alice');
    expect(await client.cards.readStatus(app, key as string)).toMatchObject([
      { userId: 'alice', read: true },
    ]);
  });
});
