import { describe, expect, it } from 'vitest';
import { alarm } from '../../test/support/alarms.ts';
import { AggregationGroup } from './aggregation.ts';

const timing = {
  groupWaitMs: 30_000,
  groupIntervalMs: 300_000,
  repeatIntervalMs: 4 * 3_600_000,
  sendResolved: true,
};
const group = (t = timing) => new AggregationGroup('g', {}, t);

describe('AggregationGroup', () => {
  it('waits groupWait after the first alarm and then lists every alarm that arrived meanwhile', () => {
    const g = group();
    g.add(alarm('a', { labels: { n: '1' } }), 0);
    g.add(alarm('b', { labels: { n: '2' } }), 10_000);
    expect(g.flush(29_999)).toBeUndefined();
    expect(g.flush(30_000)?.alarms.map((a) => a.name)).toEqual(['a', 'b']);
  });

  it('holds alarms added after a notification until groupInterval has passed', () => {
    const g = group();
    g.add(alarm('a', { labels: { n: '1' } }), 0);
    g.flush(30_000);
    g.add(alarm('b', { labels: { n: '2' } }), 40_000);
    expect(g.nextFlushAt).toBe(330_000);
    expect(g.flush(330_000)?.alarms.map((a) => a.name)).toEqual(['b']);
  });

  it('repeats still-firing alarms after repeatInterval', () => {
    const g = group();
    g.add(alarm('a', { labels: { n: '1' } }), 0);
    g.flush(30_000);
    const repeat = g.flush(30_000 + timing.repeatIntervalMs);
    expect(repeat).toMatchObject({ repeat: true });
    expect(repeat?.alarms.map((a) => a.name)).toEqual(['a']);
  });

  it('notifies a resolved alarm that was notified firing, and nothing for one resolved before its first notification', () => {
    const g = group();
    g.add(alarm('a', { labels: { n: '1' } }), 0);
    g.flush(30_000);
    expect(g.add(alarm('a-ok', { labels: { n: '1' }, state: 'resolved' }), 40_000).quiet).toEqual([]);
    expect(g.flush(330_000)?.alarms.map((a) => a.name)).toEqual(['a-ok']);

    const quiet = g.add(alarm('b', { labels: { n: '2' } }), 400_000).quiet;
    expect(quiet).toEqual([]);
    const resolved = g.add(alarm('b-ok', { labels: { n: '2' }, state: 'resolved' }), 401_000).quiet;
    expect(resolved.map((q) => [q.alarm.name, q.reason])).toEqual([
      ['b', 'ResolvedBeforeNotified'],
      ['b-ok', 'ResolvedBeforeNotified'],
    ]);
  });

  it('does not notify resolved alarms when sendResolved is off, nor a firing alarm already notified', () => {
    const g = group({ ...timing, sendResolved: false });
    g.add(alarm('a', { labels: { n: '1' } }), 0);
    g.flush(30_000);
    expect(g.add(alarm('a-again', { labels: { n: '1' } }), 31_000).quiet[0]?.reason).toBe('AlreadyNotified');
    expect(g.add(alarm('a-ok', { labels: { n: '1' }, state: 'resolved' }), 32_000).quiet[0]?.reason).toBe(
      'SendResolvedDisabled',
    );
  });

  it('notifies an alarm resolved in place (the same event added again) once, as resolved', () => {
    const g = group();
    const firing = alarm('a', { labels: { n: '1' } });
    g.add(firing, 0);
    expect(g.flush(30_000)?.alarms.map((a) => a.spec.state)).toEqual(['firing']);
    const resolved = { ...firing, spec: { ...firing.spec, state: 'resolved' as const } };
    expect(g.add(resolved, 40_000).quiet).toEqual([]);
    expect(g.add(resolved, 41_000).quiet).toEqual([]);
    const flush = g.flush(330_000);
    expect(flush?.alarms.map((a) => [a.name, a.spec.state])).toEqual([['a', 'resolved']]);
    expect(g.idle).toBe(true);
  });

  it('forgets a deleted alarm: it is neither notified nor repeated', () => {
    const g = group();
    g.add(alarm('a', { labels: { n: '1' } }), 0);
    g.add(alarm('b', { labels: { n: '2' } }), 0);
    g.flush(30_000);
    g.add(alarm('c', { labels: { n: '3' } }), 40_000);
    g.remove('ns/c');
    g.remove('ns/a');
    expect(g.pending).toEqual([]);
    expect(g.flush(30_000 + timing.repeatIntervalMs)?.alarms.map((a) => a.name)).toEqual(['b']);
  });

  it('is idle once every alarm it held is deleted', () => {
    const g = group();
    g.add(alarm('a'), 0);
    g.remove('ns/a');
    expect(g.idle).toBe(true);
    expect(g.nextFlushAt).toBeUndefined();
  });
});
