import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration files each start Azurite, the emulator and a host: two at a time suits 2 cores.
    maxWorkers: 2,
    reporters: ['default'],
    globalSetup: ['test/support/globalSetup.ts'],
    // The built bundle is loaded by Node itself, as the Functions host loads it (not transformed).
    server: { deps: { external: [/\/dist\/index\.mjs$/] } },
  },
});
