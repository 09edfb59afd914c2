import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Some property and simulation tests take seconds of CPU; on a shared 2-core machine the
          // default 5 s turned them into timing assertions.
          testTimeout: 30_000,
          typecheck: { enabled: true, include: ['test/unit/**/*.test-d.ts'] },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Integration tests start real nats-server and Python processes; on 2 cores run files one by one.
          fileParallelism: false,
          // ...in one process that keeps its module cache between files: each file no longer pays for
          // importing the runtime again, and test/harness/shared-node.ts can hand one node with its
          // workers to every file that needs only the default pool. Files restore what they change
          // (process.env) and stop what they start.
          isolate: false,
          // One nats-server for the shared node, provided to the files as `inject('sharedNatsUrl')`.
          globalSetup: ['test/harness/global-setup.ts'],
        },
      },
    ],
  },
});
