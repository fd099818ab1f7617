import type { RecordedMessage } from '../emulator/schemas.ts';

/** Most messages a robot received in any 60 s window, from the emulator's own receipt times. */
export function busiestMinute(messages: RecordedMessage[]): number {
  const times = messages.map((m) => m.receivedAt).sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while ((times[i] as number) - (times[j] as number) >= 60_000) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}
