import { describe, expect, it } from 'vitest';
import { DingTalkErrorCode } from '../../operator/dingtalk/index.ts';
import { token, useEmulator } from './harness.ts';

// Body and headers timeouts far above the request deadline, so a trickle can only be cut by the deadline.
const t = useEmulator({
  headersTimeoutMs: 30_000,
  bodyTimeoutMs: 30_000,
  requestTimeoutMs: 2_000,
  maxResponseBytes: 64 * 1024,
});

describe('answers that never end or never stop', () => {
  it('gives up on an answer that trickles in past the request deadline, though each byte beats the body timeout', async () => {
    await t.emulator.control.putRobot(token);
    await t.emulator.control.setFault({ robot: token }, { kind: 'trickle', intervalMs: 200, times: 1 });
    await expect(
      t.client.sendGroupMessage({ webhook: token }, { type: 'text', content: 'x' }),
    ).rejects.toMatchObject({
      code: DingTalkErrorCode.timeout,
      errorClass: 'transient',
      message: expect.stringContaining('no complete answer within 2000 ms'),
    });
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
