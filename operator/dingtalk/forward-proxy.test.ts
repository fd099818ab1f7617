import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../../test/emulator/server.ts';
import { type ForwardProxy, startForwardProxy } from '../../test/support/forward-proxy.ts';
import { createDingTalkClient } from './client.ts';

/** DingTalk calls through a forward proxy on this machine, the emulator standing in for DingTalk. */

const token = 'a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6';

describe('DingTalk through a forward proxy', () => {
  let emulator: RunningEmulator;
  let proxy: ForwardProxy;
  beforeAll(async () => {
    [emulator, proxy] = await Promise.all([startEmulator(), startForwardProxy()]);
    await emulator.control.putRobot(token);
  });
  afterAll(async () => {
    await Promise.all([emulator.close(), proxy.close()]);
  });

  async function send(env: Record<string, string>) {
    const client = createDingTalkClient({ oapiBaseUrl: emulator.url, apiBaseUrl: emulator.url, env });
    try {
      await client.sendGroupMessage({ webhook: token }, { type: 'text', content: 'disk full' });
    } finally {
      await client.close();
    }
  }

  it('goes through the proxy HTTP_PROXY names', async () => {
    proxy.targets.length = 0;
    await send({ HTTP_PROXY: proxy.url });
    expect(proxy.targets).toEqual([new URL(emulator.url).host]);
    expect(await emulator.control.messages({ robot: token })).toHaveLength(1);
  });

  it('goes straight to a host NO_PROXY lists', async () => {
    proxy.targets.length = 0;
    await send({ HTTP_PROXY: proxy.url, NO_PROXY: 'localhost,127.0.0.1' });
    expect(proxy.targets).toEqual([]);
    expect(await emulator.control.messages({ robot: token })).toHaveLength(2);
  });
});
