import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['tests/helpers/global-setup.ts'],
    setupFiles: ['tests/helpers/fast-check-setup.ts'],
    // Most test time is waiting on PostgreSQL, Deno and sockets, not CPU: three files at a time
    // on two cores. Tests assert behaviour, never timings, so sharing the cores is safe.
    maxWorkers: 3,
    minWorkers: 1,
    coverage: {
      provider: 'v8',
      include: ['shared/**/*.ts', 'stack/**/*.ts'],
      // The Deno gateway runs outside Node (v8 coverage cannot see it); the CLI wrappers are
      // exercised as processes by tests/e2e/stack-cli.test.ts.
      exclude: ['stack/edge-runtime.ts', 'stack/cli.ts', 'stack/reset.ts'],
      thresholds: { lines: 80, functions: 80, statements: 80, branches: 75 },
      reporter: ['text-summary', 'json-summary'],
    },
    projects: [
      { test: { name: 'unit', include: ['tests/unit/**/*.test.ts'], environment: 'node', testTimeout: 30000 } },
      { test: { name: 'db', include: ['tests/db/**/*.test.ts'], testTimeout: 30000, hookTimeout: 60000 } },
      { test: { name: 'e2e', include: ['tests/e2e/**/*.test.ts'], testTimeout: 60000, hookTimeout: 60000 } },
      // the console in Debian's Chromium (playwright-core); screenshots in test-results/console/
      { test: { name: 'browser', include: ['tests/browser/**/*.test.ts'], testTimeout: 60000, hookTimeout: 120000 } },
    ],
  },
});
