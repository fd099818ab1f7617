import { afterAll, beforeAll, beforeEach } from 'vitest';
import {
  createDingTalkClient,
  type DingTalkClient,
  type DingTalkClientOptions,
} from '../../operator/dingtalk/index.ts';
import { type RunningEmulator, startEmulator } from '../emulator/server.ts';

export interface Harness {
  emulator: RunningEmulator;
  client: DingTalkClient;
  /** onRequest events seen by the client since the last reset. */
  requests: { endpoint: string; resultClass: string }[];
}

/** One emulator per test file, reset before each test; the client talks to it for every DingTalk API. */
export function useEmulator(options: DingTalkClientOptions = {}): Harness {
  const harness = { requests: [] } as unknown as Harness;
  beforeAll(async () => {
    harness.emulator = await startEmulator();
    harness.client = createDingTalkClient({
      oapiBaseUrl: harness.emulator.url,
      apiBaseUrl: harness.emulator.url,
      onRequest: ({ endpoint, resultClass }) => harness.requests.push({ endpoint, resultClass }),
      ...options,
    });
  });
  beforeEach(async () => {
    harness.requests.length = 0;
    await harness.emulator.control.reset();
  });
  afterAll(async () => {
    await harness.client?.close();
    await harness.emulator?.close();
  });
  return harness;
}

export const token = 'a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6';
export const secret = 'SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
