import { describe, expect, it } from 'vitest';
import { measurePayload } from './payload-shape.ts';

const measure = (text: string) => measurePayload(Buffer.from(text));

describe('measurePayload', () => {
  it('counts the alerts, every object and array, and how deep they nest', () => {
    const payload = JSON.stringify({
      version: '4',
      groupLabels: { alertname: 'x' },
      alerts: [{ labels: { a: '1' }, annotations: {} }, { labels: {} }, 'not an alert'],
    });
    expect(measure(payload)).toEqual({ alerts: 3, items: 0, containers: 8, depth: 4 });
    expect(measure('{"version":"4","alerts":[]}')).toEqual({ alerts: 0, items: 0, containers: 2, depth: 2 });
  });

  it('counts the items of a body that is an array, as a batch of alarms is', () => {
    const batch = JSON.stringify([{ title: 'a', labels: { x: '[' } }, { title: 'b' }, 3]);
    expect(measure(batch)).toEqual({ alerts: 0, items: 3, containers: 4, depth: 3 });
    expect(measure('[]')).toMatchObject({ items: 0 });
    expect(measure('{"title":"one alarm"}')).toMatchObject({ items: 0, containers: 1 });
  });

  it('is not misled by brackets and quotes inside strings, nor by alerts elsewhere than the top level', () => {
    const payload = JSON.stringify({
      receiver: 'a "quoted" [name] {x}, with \\ escapes',
      groupLabels: { alerts: [{}, {}] },
      alerts: [{ labels: { '"alerts"': '[{' } }],
    });
    expect(measure(payload)).toMatchObject({ alerts: 1 });
  });

  it('counts the alerts of a key spelled with escapes, as JSON.parse reads it', () => {
    expect(measure('{"\\u0061lerts":[{},{}]}')).toMatchObject({ alerts: 2 });
  });

  it('stops counting once told the counts are over a bound', () => {
    const payload = `{"alerts":[${Array.from({ length: 1000 }, () => '{}').join(',')}]}`;
    expect(measurePayload(Buffer.from(payload), (shape) => shape.alerts > 10)).toMatchObject({ alerts: 11 });
  });
});
