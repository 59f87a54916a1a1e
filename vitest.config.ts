import { defineConfig } from 'vitest/config';

/**
 * One runner for every tier. Each test file runs in its own process (forks) because the hardware tier
 * points libpcsclite at a per-file pcscd socket, which the C library reads once per process.
 */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Two files at a time even on two cores (Vitest's default there is one): most of a file's time is spent
    // waiting on the servers and processes it started, so two overlap well and the suite stays well under 15
    // minutes on a busy machine. Every file starts its own servers on free ports, so files never share state.
    maxWorkers: 2,
    // A backstop only: every wait in a test has its own deadline (test/helpers/events.ts, 20 s unless the
    // test says otherwise) that fails first and names what did not happen. A test's timeout is larger than
    // the sum of its waits' deadlines; tests with more waits than fit here set their own.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
