import { describe, expect, it } from 'vitest';
import { RobotHealthBook, troubleOf } from './robot-health.ts';

const id = { namespace: 'team-a', service: 'alerts', group: 'ops', robot: 'b' };
const credentials = { webhook: 'token-b', keywords: [] };
const MINUTE = 60_000;

describe('robot health', () => {
  it('knows which answers are troubles of the robot, not of the message', () => {
    expect(['410100', '130101', '400102', '400106', '300001', '310000'].map(troubleOf)).toEqual([
      'Blocked',
      'Blocked',
      'Disabled',
      'Removed',
      'Removed',
      'Refused',
    ]);
    expect(troubleOf('460101')).toBeUndefined();
    expect(troubleOf(undefined)).toBeUndefined();
  });

  it('skips a blocked robot until its block ends', () => {
    const book = new RobotHealthBook({ retryMs: 10 * MINUTE });
    expect(book.failed(id, credentials, { errcode: '410100' }, 0)?.trouble).toBe('Blocked');
    expect(book.healthy(id, credentials, 10 * MINUTE - 1)).toBe(false);
    // A rotated Secret does not lift DingTalk's block of the robot.
    expect(book.healthy(id, { ...credentials, secret: 'SECnew' }, MINUTE)).toBe(false);
    expect(book.healthy(id, credentials, 10 * MINUTE)).toBe(true);
  });

  it('gives a disabled robot a trial once per period, and clears it when a message goes through', () => {
    const book = new RobotHealthBook({ retryMs: 10 * MINUTE });
    book.failed(id, credentials, { errcode: '400102', message: 'robot disabled' }, 0);
    expect(book.healthy(id, credentials, 5 * MINUTE)).toBe(false);
    expect(book.healthy(id, credentials, 10 * MINUTE)).toBe(true);
    const again = book.failed(id, credentials, { errcode: '400102' }, 10 * MINUTE);
    expect(again).toMatchObject({ since: 0, retryAt: 20 * MINUTE });
    expect(book.healthy(id, credentials, 11 * MINUTE)).toBe(false);
    expect(book.succeeded(id)?.trouble).toBe('Disabled');
    expect(book.healthy(id, credentials, 11 * MINUTE)).toBe(true);
    expect(book.marksOf('team-a', 'alerts', 'ops')).toEqual([]);
  });

  it('takes a refused robot back at once when its credentials change', () => {
    const book = new RobotHealthBook({ retryMs: 10 * MINUTE });
    book.failed(id, credentials, { errcode: '310000' }, 0);
    expect(book.healthy(id, credentials, MINUTE)).toBe(false);
    expect(book.healthy(id, { ...credentials, keywords: ['alarm'] }, MINUTE)).toBe(true);
  });

  it('marks nothing for answers about the message, and keeps tenants apart', () => {
    const book = new RobotHealthBook({ retryMs: 10 * MINUTE });
    expect(book.failed(id, credentials, { errcode: '460101' }, 0)).toBeUndefined();
    book.failed(id, credentials, { errcode: '310000' }, 0);
    expect(book.healthy({ ...id, namespace: 'team-b' }, credentials, 0)).toBe(true);
    expect(book.marksOf('team-b', 'alerts', 'ops')).toEqual([]);
  });
});
