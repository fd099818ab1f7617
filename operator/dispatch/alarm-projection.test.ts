import { describe, expect, it } from 'vitest';
import { ALARM_EVENT_MAP_LENGTHS, parseAlarmEvent } from '../api/index.ts';
import type { CustomObject } from '../manager/context.ts';
import { fingerprintOf, toAlarm } from './alarm.ts';
import { capBytes, projectAlarmEvent } from './alarm-projection.ts';
import { MAX_TEXT_BYTES } from './render.ts';

const metadata = {
  name: 'disk-full',
  namespace: 'team-a',
  uid: 'u1',
  resourceVersion: '7',
  generation: 2,
  creationTimestamp: '2026-05-01T08:00:00Z',
};

// creationTimestamp as the API server sends it: a string, where client-node's type says Date.
function event(spec: Record<string, unknown>, extra: Record<string, unknown> = {}): CustomObject {
  return {
    apiVersion: 'dingtalk.alarming.io/v1alpha1',
    kind: 'AlarmEvent',
    metadata: {
      ...metadata,
      labels: { team: 'a' },
      annotations: { note: 'n'.repeat(200_000) },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'p', uid: 'p1' }],
      ...extra,
    },
    spec: { severity: 'warning', title: 'Disk full', ...spec },
    status: { phase: 'Delivering', deliveries: [] },
  } as unknown as CustomObject;
}

describe('projectAlarmEvent', () => {
  it("keeps an event within the CRD's bounds as it is, without foreign metadata", () => {
    const spec = {
      severity: 'warning',
      title: 'Disk full',
      message: 'm'.repeat(16_384),
      labels: { alertname: 'DiskFull' },
      annotations: { runbook_url: 'https://runbooks.example/disk' },
    };
    const projected = projectAlarmEvent(event(spec));
    expect(projected).toEqual({
      apiVersion: 'dingtalk.alarming.io/v1alpha1',
      kind: 'AlarmEvent',
      metadata,
      spec,
      status: { phase: 'Delivering', deliveries: [] },
    });
  });

  it('cuts labels, annotations and message of an older, larger event to what dispatch can use, keeping its identity', () => {
    const labels = {
      alertname: 'DiskFull',
      ...Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`big${i}`, 'v'.repeat(1024)])),
      ['k'.repeat(400)]: 'x',
    };
    const annotations = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`a${i}`, 'a'.repeat(4096)]));
    const message = '告'.repeat(16_000);
    const projected = parseAlarmEvent(projectAlarmEvent(event({ labels, annotations, message })));

    expect(Object.keys(projected.spec.labels ?? {})).toEqual([
      'alertname',
      ...Array.from({ length: 7 }, (_, i) => `big${i}`),
    ]);
    const total = (map: Record<string, string> | undefined) =>
      Object.entries(map ?? {}).reduce((n, [k, v]) => n + k.length + v.length, 0);
    expect(total(projected.spec.annotations)).toBeLessThanOrEqual(ALARM_EVENT_MAP_LENGTHS.annotations);
    expect(Object.keys(projected.spec.annotations ?? {})).toHaveLength(3);
    expect(Buffer.byteLength(projected.spec.message ?? '')).toBeLessThanOrEqual(MAX_TEXT_BYTES);
    expect(projected.spec.message?.endsWith('告…')).toBe(true);
    // The fingerprint of every label, not of those kept.
    expect(toAlarm(projected).fingerprint).toBe(fingerprintOf({ labels }, metadata.name));
    expect(toAlarm(projected).fingerprint).not.toBe(fingerprintOf(projected.spec, metadata.name));
  });

  it('keeps the projected spec the informer kept from the cached version, and projects any other', () => {
    const labels = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`l${i}`, 'v']));
    const cached = projectAlarmEvent(event({ labels }));
    // A status write at the same generation: the informer hands it on with the cached version's spec.
    const statusUpdate = { ...event({ labels }, { resourceVersion: '8' }), spec: cached.spec };
    statusUpdate.status = { phase: 'Delivered', deliveries: [] };
    const updated = projectAlarmEvent(statusUpdate, cached);
    expect(updated.spec).toBe(cached.spec);
    expect(updated.status).toEqual(statusUpdate.status);
    expect(updated.metadata?.resourceVersion).toBe('8');

    const edited = projectAlarmEvent(event({ labels, title: 'Disk fuller' }, { generation: 3 }), cached);
    expect((edited.spec as { title: string }).title).toBe('Disk fuller');
    const recreated = projectAlarmEvent(event({ labels, title: 'Other' }, { uid: 'u2' }), cached);
    expect((recreated.spec as { title: string }).title).toBe('Other');
  });

  it('leaves a fingerprint given in the spec as it is', () => {
    const labels = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`l${i}`, 'v'.repeat(1024)]));
    const projected = projectAlarmEvent(event({ labels, fingerprint: 'am-123' }));
    expect((projected.spec as { fingerprint?: string }).fingerprint).toBe('am-123');
  });

  it('hands what is not an object spec on as it is, for dispatch to refuse', () => {
    expect(projectAlarmEvent({ ...event({}), spec: 'nonsense' }).spec).toBe('nonsense');
  });
});

describe('capBytes', () => {
  it('cuts between characters, with an ellipsis, within the bytes', () => {
    expect(capBytes('abc', 3)).toBe('abc');
    expect(capBytes('abcdef', 5)).toBe('ab…');
    // '€' takes three bytes: the cut does not split it.
    expect(capBytes('a€€€', 8)).toBe('a€…');
    expect(capBytes('😀😀😀', 10)).toBe('😀…');
  });

  it('never makes a text longer in characters than it was', () => {
    const text = 'x'.repeat(17_990) + '😀'.repeat(4);
    expect(capBytes(text, 18_000).length).toBeLessThanOrEqual(text.length);
  });
});
