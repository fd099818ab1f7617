import { describe, expect, it } from 'vitest';
import type { Fault } from '../emulator/schemas.ts';
import { token, useEmulator } from './harness.ts';

// A 2 s headers timeout, so a hanging DingTalk surfaces quickly. A slow answer is five times that: undici
// checks its timeouts on a coarse timer (up to about a second late), and a loaded machine delays it
// further, so a latency just above the timeout may be answered before it fires.
const t = useEmulator({ headersTimeoutMs: 2_000 });
const app = { clientId: 'dingapp', clientSecret: 'app-secret' };

const faults: [Fault, string, string][] = [
  [{ kind: 'status', status: 503 }, 'transient', 'DINGTALK_ERR_HTTP_STATUS'],
  [{ kind: 'status', status: 500 }, 'transient', 'DINGTALK_ERR_HTTP_STATUS'],
  [{ kind: 'reset' }, 'transient', 'DINGTALK_ERR_CONNECTION'],
  [{ kind: 'hang' }, 'transient', 'DINGTALK_ERR_TIMEOUT'],
  [{ kind: 'latency', ms: 10_000 }, 'transient', 'DINGTALK_ERR_TIMEOUT'],
  [{ kind: 'throttle' }, 'throttled', 'DINGTALK_ERR_REJECTED'],
];

describe('faults surface as the right error class', () => {
  it.each(faults)('group robot, %o → %s', async (fault, errorClass, code) => {
    await t.emulator.control.putRobot(token);
    await t.emulator.control.setFault({ robot: token }, fault);
    await expect(
      t.client.sendGroupMessage({ webhook: token }, { type: 'text', content: 'x' }),
    ).rejects.toMatchObject({
      errorClass,
      code,
    });
  });

  it.each(faults)('app token request, %o → %s', async (fault, errorClass, code) => {
    await t.emulator.control.putApp(app.clientId, { clientSecret: app.clientSecret });
    await t.emulator.control.setFault({ app: app.clientId }, fault);
    await expect(t.client.getAccessToken(app)).rejects.toMatchObject({ errorClass, code });
  });

  it.each(faults)('batchSend, %o → %s', async (fault, errorClass, code) => {
    await t.emulator.control.putApp(app.clientId, { clientSecret: app.clientSecret });
    await t.emulator.control.putUser('user0', { name: 'Zhang San' });
    await t.client.getAccessToken(app);
    await t.emulator.control.setFault({ app: app.clientId }, fault);
    const result = await t.client.sendToMembers(app, ['user0'], { type: 'text', content: 'x' });
    expect(result.failed).toMatchObject([{ userIds: ['user0'], error: { errorClass, code } }]);
  });
});
