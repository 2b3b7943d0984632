import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds dist/ once for the tests that run the compiled CLI and library in child processes.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests share nothing on disk but spawn CLI processes and load onnxruntime: two cores, two forks.
    pool: 'forks',
    maxWorkers: 2,
  },
});
