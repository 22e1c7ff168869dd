/**
 * Every built-in subject obeys every law on every backend — and train-mode BatchNorm fails batch
 * independence, as it must. The laws are imported through the package entry point, as a user would.
 */
import { expect } from 'vitest'
import { appliesTo, catalogue, drawnConfigEntries, registryEntries, runLaws } from 'polyak/laws'
import { describeEachBackend, itOn } from '../support/backends.js'

const RUNS = Number(process.env.POLYAK_LAW_RUNS ?? 25)

describeEachBackend('the law catalogue on the built-in subjects', (b) => {
  const it = itOn(b)
  for (const entry of [...catalogue, ...registryEntries(), ...drawnConfigEntries(0, 2)].filter((e) => e.suite !== 'backend')) {
    it(`${entry.suite}: ${entry.subject} ${entry.expect === 'pass' ? 'obeys' : 'FAILS, as it must,'} its laws`, async (ops) => {
      // a model computes on tfjs: on the Float64 interpreter there is nothing to check
      if (!appliesTo(entry, ops)) return expect(entry.tfjsOnly).toBe(true)
      const results = await entry.run(ops, { numRuns: RUNS })
      expect(results.length).toBeGreaterThan(0)
      for (const r of results) {
        const detail = `${r.law} on ${r.subject} (seed ${r.seed}): ${r.error ?? ''} ${r.counterexample ?? ''}`
        expect(r.passed, detail).toBe(entry.expect === 'pass')
      }
    })
  }
  it('backend conformance against the Float64 reference', async (ops) => {
    const { backendConformance } = await import('polyak/laws')
    const [r] = await runLaws(`backend ${ops.name}`, ops, [backendConformance], ops, { numRuns: 4 * RUNS })
    expect(r!.passed, `${r!.error} ${r!.counterexample}`).toBe(true)
  })
})
