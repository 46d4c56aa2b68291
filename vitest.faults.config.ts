import { defineConfig } from 'vitest/config';

// The fault suite kills processes, restarts its own PostgreSQL and fills disks:
// its files run one at a time, after the main suite, so nothing else shares the damage.
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default', './test/support/dialect-reporter.ts'],
  },
});
