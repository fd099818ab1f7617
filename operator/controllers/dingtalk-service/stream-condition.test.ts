import { describe, expect, it } from 'vitest';
import { streamEvents } from '../../dingtalk/stream-client.ts';
import { streamCondition } from './service-status.ts';

const counters = Object.fromEntries(streamEvents.map((e) => [e, 0])) as Record<
  (typeof streamEvents)[number],
  number
>;
const base = { connected: false, connectedSince: undefined, lastError: undefined, failures: 0, counters };

describe('StreamConnected', () => {
  it('is True while the connection is open, saying since when', () => {
    const since = Date.parse('2026-01-01T08:00:00Z');
    expect(streamCondition({ ...base, connected: true, connectedSince: since })).toEqual({
      status: 'True',
      reason: 'StreamOpen',
      message: 'connected since 2026-01-01T08:00:00Z',
    });
  });

  it('is False while first opening, and while lost with why and how many failures in a row', () => {
    expect(streamCondition(undefined)).toMatchObject({ status: 'False', reason: 'StreamConnecting' });
    expect(streamCondition(base)).toMatchObject({ status: 'False', reason: 'StreamConnecting' });
    expect(streamCondition({ ...base, lastError: 'connection closed (code 1006)', failures: 3 })).toEqual({
      status: 'False',
      reason: 'StreamLost',
      message: 'connection closed (code 1006); reconnecting (3 failure(s) in a row)',
    });
  });
});
