import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BUILT_ALONGSIDE_MS } from '../cluster/cluster-env.ts';
import { ALERTS, prometheusBinaries } from './prometheus.ts';

const run = promisify(execFile);
const TESTS = path.join(import.meta.dirname, 'alerts.test.yaml');

interface RulesFile {
  groups: { rules: { alert?: string }[] }[];
}
interface TestFile {
  tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

describe("the chart's alerts, checked by promtool", () => {
  let promtool: string;
  beforeAll(async () => {
    ({ promtool } = await prometheusBinaries());
  }, BUILT_ALONGSIDE_MS);

  it('are a valid rules file', async () => {
    const { stdout } = await run(promtool, ['check', 'rules', ALERTS]);
    expect(stdout).toMatch(/SUCCESS: 9 rules found/);
  });

  it('each have a unit case in which they fire', () => {
    const alerts = (parse(readFileSync(ALERTS, 'utf8')) as RulesFile).groups.flatMap((group) =>
      group.rules.flatMap((rule) => rule.alert ?? []),
    );
    const firing = (parse(readFileSync(TESTS, 'utf8')) as TestFile).tests.flatMap((test) =>
      (test.alert_rule_test ?? [])
        .filter((check) => check.exp_alerts.length > 0)
        .map((check) => check.alertname),
    );
    expect(new Set(firing)).toEqual(new Set(alerts));
  });

  it('fire, and stay quiet, as their unit cases say', async () => {
    const { stdout } = await run(promtool, ['test', 'rules', TESTS]).catch((err) => {
      throw new Error(`promtool test rules failed:\n${err.stdout}${err.stderr}`);
    });
    expect(stdout).toMatch(/SUCCESS/);
  });
});
