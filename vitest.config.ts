import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['operator/**/*.test.ts', 'test/emulator/**/*.test.ts', 'test/argocd/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/emulator/**/*.test.ts', 'test/argocd/**/*.test.ts'],
          globalSetup: ['test/cluster/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // Files share one control plane and a 2-core machine; two at a time keeps timings honest.
          maxWorkers: 2,
        },
      },
    ],
  },
});
