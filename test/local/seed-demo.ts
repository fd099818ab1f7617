// Gives `make run` something to show: the emulator learns the robots, app, users and card template the
// examples use, and the examples are applied in namespace "demo" with Secrets that point at the emulator.
// Usage: node test/local/seed-demo.ts <emulator-url> <kubectl> [namespace, default "demo"] [robot-url]
// robot-url is where the operator reaches the emulator when that differs from here (a pod, through a Service).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createEmulatorControl } from '../emulator/control-client.ts';

const [emulatorUrl, kubectlPath, namespace = 'demo', robotUrl = emulatorUrl] = process.argv.slice(2) as [
  string,
  string,
  string?,
  string?,
];
const control = createEmulatorControl(emulatorUrl);
const kubectl = (args: string[], input?: string) =>
  execFileSync(kubectlPath, args, { input, stdio: ['pipe', 'ignore', 'inherit'] });

// Resolved later by run.sh: an alarm resolved before its first notification is (rightly) never sent.
const RESOLVED = 'alarm-event-resolved.yaml';

const demo = {
  opsToken: 'demo-ops-robot',
  opsSigning: 'SECdemo0000000000000000000000000000000000000000000000000000000000',
  devToken: 'demo-dev-robot',
  teamToken: 'demo-team-robot',
  poolTokens: ['demo-pool-robot-a', 'demo-pool-robot-b', 'demo-pool-robot-c'],
  poolSigning: 'SECdemopool00000000000000000000000000000000000000000000000000000000',
  clientId: 'dingREPLACEWITHCLIENTID',
  clientSecret: 'demo-client-secret',
};

await control.putRobot(demo.opsToken, { secret: demo.opsSigning, keywords: ['告警', 'alarm'] });
await control.putRobot(demo.devToken, { keywords: ['alarm'] });
await control.putRobot(demo.teamToken, { name: 'Team alerts' });
// The three robots of examples/robot-pool-service.yaml, all in one group; only the first signs.
for (const [i, token] of demo.poolTokens.entries()) {
  await control.putRobot(token, { name: 'Ops storm', ...(i === 0 && { secret: demo.poolSigning }) });
}
// No robotCode: the app's robot answers to its Client ID, as an enterprise internal app's does.
await control.putApp(demo.clientId, { clientSecret: demo.clientSecret });
for (const [userId, name, mobile] of [
  ['manager1234', 'Zhang Wei', undefined],
  ['lead5678', 'Chen Jing', undefined],
  ['manager4021', 'Li Lei', undefined],
  ['0123456789', 'Wang Fang', '13800000003'],
  ['liuyang', 'Liu Yang', '13800000001'],
  ['hanmeimei', 'Han Meimei', '13800000002'],
] as const) {
  await control.putUser(userId, { name, ...(mobile && { mobile }) });
}

// The card template a team creates in DingTalk's card platform: the emulator's page shows its buttons.
const template = JSON.parse(readFileSync('examples/dingtalk/card-template.json', 'utf8')) as {
  templateId: string;
  buttons: { label: string; actionId: string; params: Record<string, unknown> }[];
};
await control.putCardTemplate(template.templateId, { buttons: template.buttons });

const secrets = [
  [
    'ops-robot',
    { webhook: `${robotUrl}/robot/send?access_token=${demo.opsToken}`, signature: demo.opsSigning },
  ],
  ['dev-robot', { 'access-token': demo.devToken }],
  ['team-robot', { webhook: demo.teamToken }],
  ['dingtalk-app', { 'client-secret': demo.clientSecret }],
  [
    'pool-robots',
    {
      'robot-a': demo.poolTokens[0],
      'robot-a-signature': demo.poolSigning,
      'robot-b': demo.poolTokens[1],
      'robot-c': demo.poolTokens[2],
    },
  ],
] as const;
kubectl(
  ['apply', '-f', '-'],
  JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }),
);
for (const [name, stringData] of secrets) {
  kubectl(
    ['apply', '-n', namespace, '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name }, type: 'Opaque', stringData }),
  );
}
const manifests = readdirSync('examples')
  .filter((file) => file.endsWith('.yaml') && !['secrets.yaml', RESOLVED].includes(file))
  .map((file) => `examples/${file}`);
kubectl(['apply', '-n', namespace, ...manifests.flatMap((file) => ['-f', file])]);
console.error(`[local] demo applied in namespace "${namespace}"; messages appear at ${emulatorUrl}/`);
