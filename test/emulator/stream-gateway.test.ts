import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from './server.ts';

/**
 * The emulated Stream gateway, seen by a bare WebSocket client written here: the protocol as DingTalk
 * documents it, without the operator's client in between.
 */

interface Frame {
  type: string;
  headers: { messageId: string; topic: string; connectionId: string };
  data: string;
}

const subscriptions = [{ type: 'CALLBACK', topic: '/v1.0/card/instances/callback' }];

/** A raw Stream connection that records frames and acknowledges them only when told to. */
async function connect(emulator: RunningEmulator, answer?: (frame: Frame) => string) {
  const response = await fetch(`${emulator.url}/v1.0/gateway/connections/open`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ clientId: 'app1', clientSecret: 'secret', subscriptions }),
  });
  const opened = (await response.json()) as { endpoint: string; ticket: string };
  const socket = new WebSocket(`${opened.endpoint}?ticket=${opened.ticket}`);
  const frames: Frame[] = [];
  const waiting: ((frame: Frame) => void)[] = [];
  const ack = (frame: Frame, data: string) => {
    const headers = { contentType: 'application/json', messageId: frame.headers.messageId };
    socket.send(JSON.stringify({ code: 200, headers, message: 'OK', data }));
  };
  socket.addEventListener('message', (event) => {
    const frame = JSON.parse(String(event.data)) as Frame;
    if (answer) return ack(frame, answer(frame));
    const next = waiting.shift();
    if (next) next(frame);
    else frames.push(frame);
  });
  const closed = new Promise<number>((resolve) =>
    socket.addEventListener('close', (event) => resolve(event.code)),
  );
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve);
    socket.addEventListener('error', reject);
  });
  return {
    socket,
    closed,
    url: `${opened.endpoint}?ticket=${opened.ticket}`,
    next: () =>
      new Promise<Frame>((resolve) =>
        frames.length ? resolve(frames.shift() as Frame) : waiting.push(resolve),
      ),
    ack,
  };
}

describe('emulated Stream gateway', () => {
  let emulator: RunningEmulator;
  const open: WebSocket[] = [];
  beforeAll(async () => {
    emulator = await startEmulator({ stream: { disconnectGraceMs: 50 } });
  });
  beforeEach(async () => {
    await emulator.control.reset();
    await emulator.control.putApp('app1', { clientSecret: 'secret' });
    await emulator.control.putUser('alice', { name: 'Alice' });
  });
  afterEach(() => {
    for (const socket of open.splice(0)) socket.close();
  });
  afterAll(() => emulator.close());

  const connected = async (answer?: (frame: Frame) => string) => {
    const connection = await connect(emulator, answer);
    open.push(connection.socket);
    return connection;
  };

  it('refuses wrong credentials and a refused-open fault, and accepts each ticket once', async () => {
    const refused = await fetch(`${emulator.url}/v1.0/gateway/connections/open`, {
      method: 'POST',
      body: JSON.stringify({ clientId: 'app1', clientSecret: 'wrong', subscriptions }),
    });
    expect(refused.status).toBe(400);
    await emulator.control.setFault({ app: 'app1' }, { kind: 'status', status: 503, times: 1 });
    await expect(connect(emulator)).rejects.toThrow();
    const first = await connected();
    const reused = new WebSocket(first.url);
    const outcome = await new Promise((resolve) => {
      reused.addEventListener('open', () => resolve('open'));
      reused.addEventListener('error', () => resolve('refused'));
    });
    expect(outcome).toBe('refused');
    // The faulted call never reached the gateway.
    expect((await emulator.control.stats()).streamOpens).toEqual({ app1: 2 });
  });

  it('counts a ping answered with its data', async () => {
    const connection = await connected();
    const pinged = emulator.control.pingStream('app1');
    const ping = await connection.next();
    expect(ping).toMatchObject({ type: 'SYSTEM', headers: { topic: 'ping' } });
    connection.ack(ping, ping.data);
    expect(await pinged).toEqual([{ id: ping.headers.connectionId, answered: true }]);
  });

  it('sends clicks to the connections in turn and applies card data from the answer', async () => {
    await createCard(emulator);
    const callbacks: Frame[] = [];
    const answer = (frame: Frame) => {
      callbacks.push(frame);
      return JSON.stringify({
        response: { cardData: { cardParamMap: { status: `acked ${callbacks.length}` } } },
      });
    };
    await connected(answer);
    await connected(answer);
    const clicks = [];
    for (const _ of [1, 2]) {
      clicks.push(
        await emulator.control.click('ae-1', { userId: 'alice', actionIds: ['ack'], params: { a: 1 } }),
      );
    }
    const targets = clicks.map((click) => click.deliveries[0]?.connectionId);
    expect(new Set(targets).size).toBe(2);
    expect(clicks.map((click) => click.deliveries[0])).toMatchObject([
      { outcome: 'answered', applied: true },
      { outcome: 'answered', applied: true },
    ]);
    const [frame] = callbacks;
    expect(frame?.type).toBe('CALLBACK');
    const data = JSON.parse(frame?.data ?? '{}');
    expect(data).toMatchObject({ outTrackId: 'ae-1', userId: 'alice' });
    expect(JSON.parse(data.content)).toEqual({ cardPrivateData: { actionIds: ['ack'], params: { a: 1 } } });
    const [card] = await emulator.control.cards();
    expect(card?.cardParamMap).toEqual({ status: 'acked 2' });
    expect(card?.history.map((version) => version.by)).toEqual(['create', 'callback', 'callback']);
  });

  it('reports a callback not answered within the deadline as late and ignores the answer', async () => {
    await createCard(emulator);
    const connection = await connected();
    const clicked = emulator.control.click('ae-1', { userId: 'alice' });
    const frame = await connection.next();
    expect((await clicked).deliveries).toEqual([
      { outcome: 'late', connectionId: frame.headers.connectionId, applied: false },
    ]);
    connection.ack(frame, JSON.stringify({ response: { cardData: { cardParamMap: { status: 'acked' } } } }));
    expect((await emulator.control.stats()).callbacks).toMatchObject({ late: 1, answered: 0 });
    expect((await emulator.control.cards())[0]?.cardParamMap).toEqual({ status: 'firing' });
  });

  it('delivers a duplicated callback twice with one messageId, and reports no connection', async () => {
    await createCard(emulator);
    expect((await emulator.control.click('ae-1', { userId: 'alice' })).deliveries).toEqual([
      { outcome: 'no-connection', applied: false },
    ]);
    const connection = await connected();
    const clicked = emulator.control.click('ae-1', { userId: 'alice', deliveries: 2 });
    const first = await connection.next();
    connection.ack(first, '{}');
    const second = await connection.next();
    connection.ack(second, '{}');
    expect(second.headers.messageId).toBe(first.headers.messageId);
    expect((await clicked).deliveries.map((delivery) => delivery.outcome)).toEqual(['answered', 'answered']);
  });

  it("shows a card's buttons on the page, and a button click goes over the Stream and back to the page", async () => {
    await createCard(emulator);
    await emulator.control.putCardTemplate('tpl', {
      buttons: [{ label: 'Acknowledge', actionId: 'ack', params: { action: 'acknowledge' } }],
    });
    const callbacks: Frame[] = [];
    await connected((frame) => {
      callbacks.push(frame);
      return JSON.stringify({ response: { cardData: { cardParamMap: { status: 'acknowledged' } } } });
    });
    const page = await (await fetch(emulator.url)).text();
    const action = /<button name="action" value="([^"]+)">Acknowledge<\/button>/.exec(page)?.[1];
    expect(action).toBeDefined();
    const form = new URLSearchParams({ userId: 'alice', action: (action ?? '').replaceAll('&#34;', '"') });
    const posted = await fetch(`${emulator.url}/_control/cards/ae-1/click`, {
      method: 'POST',
      body: form,
      redirect: 'manual',
    });
    expect([posted.status, posted.headers.get('location')]).toEqual([303, '/']);
    expect(JSON.parse(JSON.parse(callbacks[0]?.data ?? '{}').content)).toEqual({
      cardPrivateData: { actionIds: ['ack'], params: { action: 'acknowledge' } },
    });
    expect(await (await fetch(emulator.url)).text()).toContain('<dd>acknowledged</dd>');
  });

  it('sends a disconnect frame, then closes; drops a connection without one', async () => {
    const leaving = await connected();
    await emulator.control.disconnectStream('app1');
    expect(await leaving.next()).toMatchObject({ type: 'SYSTEM', headers: { topic: 'disconnect' } });
    expect(await leaving.closed).toBe(1000);
    const dropped = await connected();
    await emulator.control.dropStream('app1');
    expect(await dropped.closed).toBe(1006);
    expect(await emulator.control.streamConnections('app1')).toEqual([]);
  });
});

async function createCard(emulator: RunningEmulator) {
  const token = await fetch(`${emulator.url}/v1.0/oauth2/accessToken`, {
    method: 'POST',
    body: JSON.stringify({ appKey: 'app1', appSecret: 'secret' }),
  }).then((response) => response.json() as Promise<{ accessToken: string }>);
  const created = await fetch(`${emulator.url}/v1.0/card/instances/createAndDeliver`, {
    method: 'POST',
    headers: { 'x-acs-dingtalk-access-token': token.accessToken },
    body: JSON.stringify({
      outTrackId: 'ae-1',
      cardTemplateId: 'tpl',
      cardData: { cardParamMap: { status: 'firing' } },
      callbackType: 'STREAM',
      openSpaceId: 'dtv1.card//IM_ROBOT.alice',
      imRobotOpenDeliverModel: { spaceType: 'IM_ROBOT' },
    }),
  });
  expect(created.status).toBe(200);
}
