import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url))

export default defineConfig({
  resolve: {
    // The tests import polyak through its package entry points, as a user would; these map the
    // entry points to the sources so tests need no build.
    alias: [
      { find: /^polyak\/laws$/, replacement: here('./laws/index.ts') },
      { find: /^polyak\/backends$/, replacement: here('./backends/index.ts') },
      { find: /^polyak\/backends\/(.*)$/, replacement: here('./backends/$1.ts') },
      { find: /^polyak\/node$/, replacement: here('./src/node/index.ts') },
      { find: /^polyak\/layers$/, replacement: here('./src/layers/index.ts') },
      { find: /^polyak$/, replacement: here('./src/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // One process per test file: each has its own tfjs engine (the active backend is global state).
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['verbose', './test/support/summaryReporter.ts'],
  },
})
