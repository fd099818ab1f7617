import { describe, expect, it } from 'vitest';
import { eventually, kubectl } from '../support/kube.ts';

// kubectl explain reads the published OpenAPI, which the API server rebuilds shortly after a CRD changes.
const explain = (field: string) =>
  eventually(() => kubectl(['explain', field]), { timeoutMs: 60_000, intervalMs: 500 });

describe('kubectl explain', () => {
  it('describes the groups of a DingTalkService, field by field', async () => {
    const output = await explain('dingtalkservice.spec.groups');
    expect(output).toContain('DingTalk groups, each reached through its custom group robot.');
    for (const field of ['name', 'webhook', 'signature', 'keywords', 'rateLimitPerMinute']) {
      expect(output).toMatch(new RegExp(`^\\s+${field}\\s+<`, 'm'));
    }
    expect(output).toContain('exactly as it is shown in DingTalk');
    expect(output).toContain('加签');
  });

  it('tells how robotCode defaults, since a CRD default cannot say it', async () => {
    expect(await explain('dingtalkservice.spec.member.robotCode')).toContain('Omitted: the clientId');
  });

  it('describes the grouping timers of an AlarmRule with their defaults', async () => {
    const output = await explain('alarmrule.spec.grouping');
    expect(output).toMatch(/groupWait\s+<string>/);
    expect(output).toContain("Alertmanager's semantics");
  });

  it('describes the delivery ledger of an AlarmEvent', async () => {
    const output = await explain('alarmevent.status.deliveries');
    expect(output).toContain('The delivery ledger');
    expect(output).toMatch(/msgUuid\s+<string>/);
  });
});
