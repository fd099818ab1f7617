import { describe, expect, it } from 'vitest';
import { OperatorMetrics } from './metrics.ts';

describe('Stream metrics', () => {
  it('counts events per app and reads whether each app is connected at scrape time', async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    let connected = true;
    metrics.observeStream('app1', () => connected);
    metrics.recordStreamEvent('app1', 'opened');
    metrics.recordStreamEvent('app1', 'opened');
    expect(await metrics.registry.metrics()).toContain(
      'dingtalk_operator_dingtalk_stream_events_total{app="app1",event="opened"} 2',
    );
    expect(await metrics.registry.metrics()).toContain(
      'dingtalk_operator_dingtalk_stream_connected{app="app1"} 1',
    );
    connected = false;
    expect(await metrics.registry.metrics()).toContain(
      'dingtalk_operator_dingtalk_stream_connected{app="app1"} 0',
    );
  });

  it('stops reporting an app whose connection the operator no longer keeps', async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    metrics.observeStream('app1', () => true);
    expect(await metrics.registry.metrics()).toContain(
      'dingtalk_operator_dingtalk_stream_connected{app="app1"} 1',
    );
    metrics.forgetStream('app1');
    expect(await metrics.registry.metrics()).not.toContain('stream_connected{app="app1"}');
  });
});

describe('card click metrics', () => {
  it('counts clicks by outcome', async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    metrics.recordCardClick('Recorded');
    metrics.recordCardClick('UnknownEvent');
    metrics.recordCardClick('UnknownEvent');
    const text = await metrics.registry.metrics();
    expect(text).toContain('dingtalk_operator_card_clicks_total{outcome="Recorded"} 1');
    expect(text).toContain('dingtalk_operator_card_clicks_total{outcome="UnknownEvent"} 2');
  });
});

describe('alarm and watch metrics', () => {
  it('counts cached alarms by phase at scrape time, every known phase shown, and counts phase changes', async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    let phases = ['Held', 'Held', 'Delivered'];
    metrics.observeAlarmPhases(['Pending', 'Held', 'Delivered'], () => phases);
    metrics.recordAlarmPhaseChange('Failed');
    let text = await metrics.registry.metrics();
    expect(text).toContain('dingtalk_operator_alarm_events{phase="Held"} 2');
    expect(text).toContain('dingtalk_operator_alarm_events{phase="Pending"} 0');
    expect(text).toContain('dingtalk_operator_alarm_event_phase_changes_total{phase="Failed"} 1');
    phases = ['Delivered'];
    text = await metrics.registry.metrics();
    expect(text).toContain('dingtalk_operator_alarm_events{phase="Held"} 0');
  });

  it("reads whether each collection's watch is failing at scrape time", async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    let failing = true;
    metrics.observeWatch('alarms', '/apis/g/v1/alarmevents', () => failing);
    expect(await metrics.registry.metrics()).toContain(
      'dingtalk_operator_watch_failing{cache="alarms",collection="/apis/g/v1/alarmevents"} 1',
    );
    failing = false;
    expect(await metrics.registry.metrics()).toContain(
      'dingtalk_operator_watch_failing{cache="alarms",collection="/apis/g/v1/alarmevents"} 0',
    );
  });
});

describe('AlarmEvent status metrics', () => {
  it('reads the ledgers waiting to be written at scrape time', async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    let unwritten = 7;
    metrics.observeStatusUnwritten(() => unwritten);
    expect(await metrics.registry.metrics()).toContain('dingtalk_operator_alarm_status_unwritten 7');
    unwritten = 0;
    expect(await metrics.registry.metrics()).toContain('dingtalk_operator_alarm_status_unwritten 0');
  });
});
