import { describe, expect, it } from 'vitest';
import { DingTalkErrorCode } from '../../operator/dingtalk/index.ts';
import { token, useEmulator } from './harness.ts';

const t = useEmulator({ bodyTimeoutMs: 1_000, requestTimeoutMs: 2_000, maxResponseBytes: 64 * 1024 });

describe('answers that never end or never stop', () => {
  it('gives up on an answer that trickles in past the request deadline, though each byte beats the body timeout', async () => {
    await t.emulator.control.putRobot(token);
    await t.emulator.control.setFault({ robot: token }, { kind: 'trickle', intervalMs: 200, times: 1 });
    const started = Date.now();
    await expect(
      t.client.sendGroupMessage({ webhook: token }, { type: 'text', content: 'x' }),
    ).rejects.toMatchObject({ code: DingTalkErrorCode.timeout, errorClass: 'transient' });
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('refuses an answer larger than the cap without reading it all', async () => {
    await t.emulator.control.putRobot(token);
    await t.emulator.control.setFault(
      { robot: token },
      { kind: 'oversize', bytes: 256 * 1024 * 1024, times: 1 },
    );
    await expect(
      t.client.sendGroupMessage({ webhook: token }, { type: 'text', content: 'x' }),
    ).rejects.toMatchObject({ code: DingTalkErrorCode.responseTooLarge, errorClass: 'transient' });
  });
});
