import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { constant, cosineToOne, decayAt, fromTorchMomentum, momentumBnAlpha, toTorchMomentum, warmup } from 'polyak'

describe('schedules', () => {
  it('fromTorchMomentum converts PyTorch BN momentum (weight on new) to a decay (weight on old)', () => {
    expect(fromTorchMomentum(0.1)).toBe(0.9)
    expect(toTorchMomentum(fromTorchMomentum(0.25))).toBe(0.25)
    expect(() => fromTorchMomentum(1.5)).toThrow(/\[0, 1\]/)
  })

  it('cosineToOne: m_0 = base, m_{K/2} = (1 + base)/2, m_K = 1, clamped beyond K (E10)', () => {
    const m = cosineToOne(0.996, 100)
    expect(m(0)).toBe(0.996)
    expect(m(50)).toBeCloseTo((1 + 0.996) / 2, 12)
    expect(m(100)).toBe(1)
    expect(m(200)).toBe(1) // the reference would swing back to 0.996
    expect(m(-5)).toBe(0.996)
  })

  it('momentumBnAlpha: α_0 = 1, α_{K/2} = 0.5, α_K = 0, clamped beyond K (M1)', () => {
    const a = momentumBnAlpha(10)
    expect(a(0)).toBe(1)
    expect(a(5)).toBeCloseTo(0.5, 12)
    expect(a(10)).toBe(0)
    expect(a(15)).toBe(0) // the reference gives 0.5 here
  })

  it('property: cosineToOne is non-decreasing in [base, 1]; momentumBnAlpha non-increasing in [0, 1]', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: -10, max: 2000 }), (base, K, k) => {
        const m = cosineToOne(base, K)
        const a = momentumBnAlpha(K)
        expect(m(k + 1)).toBeGreaterThanOrEqual(m(k) - 1e-15)
        expect(m(k)).toBeGreaterThanOrEqual(base - 1e-15)
        expect(m(k)).toBeLessThanOrEqual(1)
        expect(a(k + 1)).toBeLessThanOrEqual(a(k) + 1e-15)
        expect(a(k)).toBeGreaterThanOrEqual(0)
        expect(a(k)).toBeLessThanOrEqual(1)
        return true
      }),
    )
  })

  it('warmup (timm): starts at minDecay, rises, clipped at decay', () => {
    const w = warmup({ decay: 0.999, gamma: 1, power: 3 / 4 })
    expect(w(0)).toBe(0)
    expect(w(10)).toBeCloseTo(1 - 11 ** -0.75, 12)
    expect(w(1e9)).toBe(0.999)
    expect(() => warmup({ decay: 0.5, minDecay: 0.9 })).toThrow(/minDecay/)
  })

  it('decayAt checks schedules return decays', () => {
    expect(decayAt(constant(0.5), 3)).toBe(0.5)
    expect(() => decayAt(() => 2, 0)).toThrow(/number in \[0, 1\], the weight on the old value/)
  })
})
