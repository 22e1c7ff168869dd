import { FLOAT32_UNIT_ROUNDOFF } from '../../src/core/tolerance.js'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it as test } from 'vitest'
import { ConfigError, MAX_COUNT, cosineToOne, ema, unsafeEma } from 'polyak'
import { assertAllClose } from 'polyak/laws'
import { describeEachBackend, itOn } from '../support/backends.js'
import { type FixtureTensor, loadFixture, tensorOf } from '../support/fixtures.js'

const chains = loadFixture<{
  chains: Array<{ decay: number; theta0: FixtureTensor; xs: FixtureTensor[]; torchFloat32: FixtureTensor; float64: FixtureTensor }>
}>('ema.json').chains

describeEachBackend('ema', (b) => {
  const it = itOn(b)
  const read = async (ops: { read: (t: never) => Promise<ArrayLike<number>> }, t: unknown) => Array.from(await ops.read(t as never))

  it('copy-init: one step is d·θ0 + (1−d)·x; the state counts updates', async (ops) => {
    const avg = unsafeEma(ops, { decay: 0.75, init: 'copy' })
    const s0 = avg.init({ w: ops.tensor([4, 8], [2]) })
    const [reported, s1] = avg.update({ w: ops.tensor([0, 0], [2]) })(s0)
    expect(await read(ops, s1.stats.average.w)).toEqual([3, 6])
    expect(await read(ops, reported.w)).toEqual([3, 6])
    expect(reported.w).not.toBe(s1.stats.average.w)
    expect(s1.stats.count).toBe(1)
  })

  it('zero-init with debias: the stored average is biased, the reported value is not (optax test_ema_debias)', async (ops) => {
    const avg = unsafeEma(ops, { decay: 0.9, debias: true })
    const s0 = avg.init({ w: ops.zeros([1]) })
    const [r1, s1] = avg.update({ w: ops.tensor([5], [1]) })(s0)
    const [r2, s2] = avg.update({ w: ops.tensor([7], [1]) })(s1)
    // stored: (1−d)·5 = 0.5 then 0.9·0.5 + 0.1·7 = 1.15; reported: 0.5/0.1 = 5, 1.15/0.19
    expect((await read(ops, s1.stats.average.w))[0]).toBeCloseTo(0.5, 6)
    expect((await read(ops, r1.w))[0]).toBeCloseTo(5, 5)
    expect((await read(ops, s2.stats.average.w))[0]).toBeCloseTo(1.15, 5)
    expect((await read(ops, r2.w))[0]).toBeCloseTo(1.15 / 0.19, 4)
  })

  it('a debiased EMA of a constant is that constant from the first step (haiku)', async (ops) => {
    const avg = unsafeEma(ops, { decay: 0.99, debias: true })
    let s = avg.init({ w: ops.zeros([3]) })
    const c = ops.tensor([3, -1, 2], [3])
    for (let i = 0; i < 5; i++) {
      const [r, next] = avg.update({ w: c })(s)
      assertAllClose(await ops.read(r.w), [3, -1, 2], { rtol: 1e-5, atol: 1e-6 })
      s = next
    }
  })

  it('decay schedules are evaluated at the update index', async (ops) => {
    const sched = cosineToOne(0.5, 2) // 0.5, 0.75, 1
    const avg = unsafeEma(ops, { decay: sched, init: 'copy' })
    let s = avg.init({ w: ops.tensor([0], [1]) })
    const seen: number[] = []
    for (let i = 0; i < 3; i++) {
      ;[, s] = avg.update({ w: ops.tensor([1], [1]) })(s)
      seen.push((await read(ops, s.stats.average.w))[0]!)
    }
    expect(seen[0]).toBeCloseTo(0.5, 6)
    expect(seen[1]).toBeCloseTo(0.5 * 0.75 + 0.25, 6)
    expect(seen[2]).toBeCloseTo(seen[1]!, 6) // decay 1 at k = K: no change
  })

  for (const chain of chains) {
    it(`matches PyTorch's float32 EMA chain (decay ${chain.decay}, ${chain.xs.length} steps) and the float64 value within the E4 bound`, async (ops) => {
      const avg = unsafeEma(ops, { decay: chain.decay, init: 'copy' })
      let s = avg.init({ w: tensorOf(ops, chain.theta0) })
      for (const x of chain.xs) {
        const [r, next] = avg.update({ w: tensorOf(ops, x) })(s)
        ops.dispose(r.w)
        s = next
      }
      const got = await ops.read(s.stats.average.w)
      const u = FLOAT32_UNIT_ROUNDOFF
      const mag = Math.max(...chain.theta0.data.map(Math.abs), ...chain.xs.flatMap((x) => x.data.map(Math.abs)))
      // docs/methods.md E4: |err| ≤ 4·u·max|·|·min(T, 1/(1−m)) + 2 ulp; the reference backend is float64-exact
      const bound = b.descriptor.name === 'reference' ? 1e-12 : 4 * u * mag * Math.min(chain.xs.length, 1 / (1 - chain.decay)) + 4 * u * mag
      assertAllClose(got, chain.float64.data, { rtol: 0, atol: bound, label: 'vs float64' })
      if (b.descriptor.name !== 'reference') assertAllClose(got, chain.torchFloat32.data, { rtol: 0, atol: 2 * bound, label: 'vs torch float32' })
    })
  }

  it('property: decay 1 leaves the average bitwise unchanged, decay 0 copies the input bitwise', async (ops) => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.float({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.float({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 8, maxLength: 8 }),
        async (theta, xs) => {
          const x = xs.slice(0, theta.length)
          for (const [decay, want] of [
            [1, theta],
            [0, x],
          ] as const) {
            const avg = unsafeEma(ops, { decay, init: 'copy' })
            const s0 = avg.init({ w: ops.tensor(theta, [theta.length]) })
            const [r, s1] = avg.update({ w: ops.tensor(x, [x.length]) })(s0)
            const got = Array.from(await ops.read(s1.stats.average.w), (v) => (v === 0 ? 0 : v))
            expect(got).toEqual(Array.from(await ops.read(ops.tensor(want, [want.length])), (v) => (v === 0 ? 0 : v)))
            ops.dispose(r.w)
          }
          return true
        },
      ),
      { numRuns: 30 },
    )
  })
})

describe('ema config', () => {
  const ops = { name: 'none' } as never
  test('rejects a decay outside [0, 1], naming the field and the conversion from PyTorch momentum', () => {
    const r = ema(ops, { decay: 1.5 })
    expect(E.isLeft(r)).toBe(true)
    if (E.isLeft(r)) {
      expect(r.left).toBeInstanceOf(ConfigError)
      expect(r.left.message).toMatch(/field 'decay': got 1.5; .*\[0, 1\].*fromTorchMomentum/)
    }
  })
  test('rejects debias with copy-init, and unknown fields with a suggestion', () => {
    expect(() => unsafeEma(ops, { decay: 0.9, init: 'copy', debias: true })).toThrow(/debias.*init 'zeros'/)
    expect(() => unsafeEma(ops, { decay: 0.9, debais: true } as never)).toThrow(/unknown field; did you mean 'debias'/)
  })
  test('the counter saturates at int32 max', () => {
    expect(MAX_COUNT).toBe(2147483647)
  })
})
