/**
 * The paired analysis on planted data: a known effect comes out reproduced, a null effect
 * inconclusive with a sensible smallest detectable effect, a reversed effect contradicted — and
 * pairing finds an effect that the per-arm spread hides. The t quantiles match published tables.
 */
import { describe, expect, it } from 'vitest'
import { describeComparison, pairedComparison, studentTQuantile } from '../../src/node/experiments/paired.js'
import { normal, rng } from '../../src/nn/random.js'

/** Planted runs: each seed has its own shared offset (initialisation and batches), each arm its own small noise. */
const planted = (effect: number, seeds: number, seedSpread: number, noise: number, salt = 1) => {
  const r = rng(salt)
  const a = new Map<number, number>()
  const b = new Map<number, number>()
  for (let s = 0; s < seeds; s++) {
    const shared = 70 + seedSpread * normal(r)
    b.set(s, shared + noise * normal(r))
    a.set(s, shared + effect + noise * normal(r))
  }
  return { a, b }
}

describe('paired analysis', () => {
  it("Student's t quantiles match the tables", () => {
    const table: Array<[number, number, number]> = [
      [0.975, 1, 12.7062],
      [0.975, 4, 2.7764],
      [0.975, 9, 2.2622],
      [0.975, 29, 2.0452],
      [0.8, 4, 0.941],
      [0.8, 9, 0.8834],
    ]
    for (const [p, df, want] of table) expect(studentTQuantile(p, df)).toBeCloseTo(want, 3)
    expect(studentTQuantile(0.5, 7)).toBeCloseTo(0, 6)
    expect(studentTQuantile(0.025, 4)).toBeCloseTo(-2.7764, 3)
  })

  it('a known effect comes out reproduced, though the seeds spread the arms far wider than the effect', () => {
    const { a, b } = planted(2, 5, 6, 0.5)
    const c = pairedComparison(a, b, 'greater')
    expect(c.verdict).toBe('reproduced')
    expect(c.interval[0]).toBeGreaterThan(0)
    expect(c.signs.positive).toBe(5)
    // the unpaired rule |Δ| > s_A + s_B would call this within the spread
    const sd = (m: Map<number, number>) => {
      const v = [...m.values()]
      const mean = v.reduce((x, y) => x + y, 0) / v.length
      return Math.sqrt(v.reduce((x, y) => x + (y - mean) ** 2, 0) / (v.length - 1))
    }
    expect(Math.abs(c.mean)).toBeLessThan(sd(a) + sd(b))
    expect(describeComparison(c)).toMatch(/^Δ \+\d\.\d points \[\+\d\.\d, \+\d\.\d\] \(paired t, 95 %\), 5\/5 seeds positive: reproduced$/)
  })

  it('a null effect comes out inconclusive, with the smallest effect 5 seeds could detect', () => {
    const { a, b } = planted(0, 5, 6, 0.5, 7)
    const c = pairedComparison(a, b, 'greater')
    expect(c.verdict).toBe('inconclusive')
    expect(c.interval[0]).toBeLessThan(0)
    expect(c.interval[1]).toBeGreaterThan(0)
    // (t_.975,4 + t_.8,4)·s_d/√5 ≈ 1.66·s_d: of the order of the paired noise (√2·0.5), far below the seed spread
    expect(c.smallestDetectable).toBeCloseTo((2.7764 + 0.941) * (c.sd / Math.sqrt(5)), 3)
    expect(c.smallestDetectable).toBeGreaterThan(0.2)
    expect(c.smallestDetectable).toBeLessThan(3)
    expect(describeComparison(c)).toMatch(/inconclusive; 5 seeds could detect \|Δ\| ≥ \d\.\d points$/)
  })

  it('a reversed effect comes out contradicted', () => {
    const { a, b } = planted(-2, 5, 6, 0.5, 3)
    expect(pairedComparison(a, b, 'greater').verdict).toBe('contradicted')
    expect(pairedComparison(a, b, 'less').verdict).toBe('reproduced')
  })

  it('pairs by seed: unmatched seeds are left out, one pair gives no interval', () => {
    const c = pairedComparison(
      new Map([
        [0, 1],
        [1, 2],
        [5, 9],
      ]),
      new Map([
        [1, 1],
        [0, 0],
        [7, 0],
      ]),
      'greater',
    )
    expect(c.seeds).toEqual([0, 1])
    expect(c.differences).toEqual([1, 1])
    expect(c.sd).toBe(0)
    expect(pairedComparison(new Map([[0, 2]]), new Map([[0, 1]]), 'greater')).toMatchObject({ n: 1, verdict: 'inconclusive', smallestDetectable: Infinity })
  })
})
