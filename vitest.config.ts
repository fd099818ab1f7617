import { defineConfig } from 'vitest/config';
import AlongsideLastSequencer from './test/support/alongside-last-sequencer.ts';

export default defineConfig({
  test: {
    reporters: ['default', './test/support/slowest-files-reporter.ts'],
    sequence: { sequencer: AlongsideLastSequencer },
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            'operator/**/*.test.ts',
            'test/emulator/**/*.test.ts',
            'test/argocd/**/*.test.ts',
            'test/docs/**/*.test.ts',
            'test/support/**/*.test.ts',
          ],
        },
      },
      {
        // The built images, looked into with buildah; no cluster needed.
        test: {
          name: 'image',
          include: ['test/image/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 1_800_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: [
            'test/emulator/**/*.test.ts',
            'test/argocd/**/*.test.ts',
            'test/docs/**/*.test.ts',
            'test/support/**/*.test.ts',
            'test/image/**/*.test.ts',
          ],
          globalSetup: ['test/cluster/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // Most integration files wait on servers, not the CPU: four at a time keep a 2-core machine busy
          // without starving the control plane they share (and the node the deployed file runs on).
          maxWorkers: 4,
        },
      },
    ],
  },
});
