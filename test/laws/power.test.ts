/** The power measurement: planted errors are detected from some size on, and not below float32's reach. */
import { beforeAll, describe, expect, it } from 'vitest'
import type { Leaf, Ops } from 'polyak'
import { unsafeUseBackend } from 'polyak/backends'
import { EXACT_LAWS, POWER_DELTAS, lawPower } from 'polyak/laws'

let ops: Ops<Leaf>
beforeAll(async () => {
  ops = (await unsafeUseBackend('cpu')).ops
})

describe('lawPower', () => {
  it('finds, for batch independence and the EMA closed form, the smallest planted error detected in every trial', async () => {
    const results = await lawPower(ops, { trials: 5, only: (n) => n === 'batch.independence' || n === 'ema.closedForm' })
    expect(results.map((r) => r.law).sort()).toEqual(['batch.independence', 'ema.closedForm'])
    for (const r of results) {
      expect(r.smallest, `${r.law} detects some planted error`).toBeDefined()
      // every δ at or above the smallest was detected in every trial, and the walk stopped at the first miss below it
      for (const [delta, rate] of r.rates) if (delta >= r.smallest!) expect(rate).toBe(1)
      const last = r.rates[r.rates.length - 1]!
      if (last[0] < r.smallest!) expect(last[1]).toBeLessThan(1)
      expect(POWER_DELTAS).toContain(r.smallest)
    }
    // a leak of a millionth of the batch mean is caught; float32 cannot hold 1 + 1e-8
    expect(results.find((r) => r.law === 'batch.independence')!.smallest).toBeLessThanOrEqual(1e-5)
  })

  it('skips the laws that compare bitwise or compare a subject with itself', async () => {
    const results = await lawPower(ops, { trials: 1, only: (n) => EXACT_LAWS.has(n) })
    expect(results).toEqual([])
  })
})
