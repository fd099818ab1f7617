import { describe, expect, it } from 'vitest';
import { token, useEmulator } from './harness.ts';

const t = useEmulator();
const send = (content: string) => t.client.sendGroupMessage({ webhook: token }, { type: 'text', content });

describe('group robot rate limit', () => {
  it('throttles the 21st message in a minute and keeps the robot blocked for ten minutes', async () => {
    await t.emulator.control.putRobot(token);
    for (let index = 1; index <= 20; index++) await send(`alarm ${index}`);

    await expect(send('alarm 21')).rejects.toMatchObject({ errcode: 410100, errorClass: 'throttled' });
    await t.emulator.control.advanceClock(5 * 60_000);
    await expect(send('still blocked')).rejects.toMatchObject({ errorClass: 'throttled' });

    await t.emulator.control.advanceClock(5 * 60_000 + 1);
    await send('after the block');
    const texts = (await t.emulator.control.messages({ robot: token })).map((message) => message.text);
    expect(texts).toHaveLength(21);
    expect(texts.at(-1)).toBe('after the block');
  });

  it('allows 20 messages in every minute', async () => {
    await t.emulator.control.putRobot(token);
    for (let index = 1; index <= 20; index++) await send(`first minute ${index}`);
    await t.emulator.control.advanceClock(60_001);
    for (let index = 1; index <= 20; index++) await send(`second minute ${index}`);
    expect(await t.emulator.control.messages({ robot: token })).toHaveLength(40);
  });
});
