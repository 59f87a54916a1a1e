import { defineConfig } from 'vitest/config';

/**
 * One runner for every tier. Each test file runs in its own process (forks) because the hardware tier
 * points libpcsclite at a per-file pcscd socket, which the C library reads once per process.
 */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
