/**
 * Flags for an operator under test: DingTalk is the emulator, the operator watches one namespace, and
 * its health server takes a free loopback port. `extra` comes last, so a test can override any of them.
 */
export function operatorFlags(emulatorUrl: string, namespace: string, extra: string[] = []): string[] {
  return [
    '--dingtalk-robot-url',
    emulatorUrl,
    '--dingtalk-api-url',
    emulatorUrl,
    '--allowed-webhook-hosts',
    '127.0.0.1',
    '--namespaces',
    namespace,
    '--leader-elect',
    'false',
    '--health-address',
    '127.0.0.1',
    '--health-port',
    '0',
    ...extra,
  ];
}
