import { startEmulator } from './server.ts';

const port = Number(process.env.PORT ?? 8780);
const emulator = await startEmulator({ port, host: process.env.HOST ?? '127.0.0.1' });
console.log(`DingTalk emulator on ${emulator.url} (messages at /, control API under /_control)`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void emulator.close().then(() => process.exit(0));
  });
}
