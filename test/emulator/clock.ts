/** The emulator's time. Tests move it forward instead of waiting out DingTalk's minute and ten-minute windows. */
export interface Clock {
  now(): number;
  advance(ms: number): void;
}

export function createClock(base: () => number = Date.now): Clock {
  let offset = 0;
  return {
    now: () => base() + offset,
    advance(ms) {
      offset += ms;
    },
  };
}
