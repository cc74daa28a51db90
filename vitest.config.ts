import { defineConfig } from 'vitest/config';

// One runner for the whole repository; projects split fast pure tests from the ones that need Redis.
export default defineConfig({
  test: {
    // A Redis for the suites that need one: the running one, else a throwaway redis-server (test/redis-for-tests.ts).
    globalSetup: ['test/redis-for-tests.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['shared/**/*.test.ts', 'sync-service/**/*.unit.test.ts', 'test/unit/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['sync-service/**/*.int.test.ts', 'test/e2e/**/*.test.ts', 'test/sandbox/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        // `npm start` as a child process and the local page in headless Chromium (needs Redis; the browser is a system Chromium or the one inside @sparticuz/chromium).
        test: {
          name: 'quickstart',
          include: ['test/quickstart/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'app',
          root: 'hubspot-app',
          include: ['**/*.test.{ts,tsx}'],
          exclude: ['**/node_modules/**', '**/dist/**'],
        },
      },
    ],
  },
});
