import { describe, expect, it } from 'vitest';
import { HeldTargets } from './held.ts';

const target = (namespace: string, errcode = '310000') => ({
  namespace,
  service: 'ops',
  kind: 'Group' as const,
  name: 'ops',
  errcode,
  message: 'sign not match',
  since: 0,
  alarms: 1,
});

describe('HeldTargets', () => {
  it("keeps each tenant's held targets apart, however alike their names", () => {
    const held = new HeldTargets();
    held.hold(target('team-a'));
    expect(held.of('team-a', 'ops')).toHaveLength(1);
    expect(held.of('team-b', 'ops')).toEqual([]);
  });

  it('tells listeners when a service gains a held target, its errcode changes, or it is released', () => {
    const held = new HeldTargets();
    const heard: string[] = [];
    held.onChange((namespace, service) => heard.push(`${namespace}/${service}`));
    held.hold(target('team-a'));
    held.hold({ ...target('team-a'), alarms: 2 });
    held.hold(target('team-a', '300001'));
    held.release(target('team-a'));
    held.release(target('team-a'));
    expect(heard).toEqual(['team-a/ops', 'team-a/ops', 'team-a/ops']);
    expect(held.of('team-a', 'ops')).toEqual([]);
  });
});
