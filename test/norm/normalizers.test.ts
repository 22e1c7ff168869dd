/**
 * Contracts of the normalizers beyond PyTorch parity: modes, statistics, errors, configs.
 */
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it as test } from 'vitest'
import {
  ConfigError,
  type Leaf,
  type Ops,
  batchNorm,
  groupNorm,
  momentumBatchNorm,
  unsafeBatchNorm,
  unsafeEman,
  unsafeGroupNorm,
  unsafeInstanceNorm,
  unsafeLayerNorm,
  unsafeMomentumBatchNorm,
  unsafeWeightAlign,
  unsafeWeightStandardization,
  weightAlign,
} from 'polyak'
import { assertAllClose } from 'polyak/laws'
import { describeEachBackend, itOn } from '../support/backends.js'

const randomBatch = <T extends Leaf>(ops: Ops<T>, shape: number[], seed: number): T => {
  let s = seed
  const n = shape.reduce((a, b) => a * b, 1)
  const data = Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648
    return (s / 2147483648) * 4 - 2
  })
  return ops.tensor(data, shape)
}

const rowsOf = async <T extends Leaf>(ops: Ops<T>, y: T): Promise<number[][]> => {
  const d = Array.from(await ops.read(y))
  const per = d.length / y.shape[0]!
  return Array.from({ length: y.shape[0]! }, (_, i) => d.slice(i * per, (i + 1) * per))
}

describeEachBackend('normalizer contracts', (b) => {
  const it = itOn(b)
  const tol = () => ({ rtol: 20 * b.descriptor.tolerance.rtol, atol: 20 * b.descriptor.tolerance.atol })

  it('batchNorm train rejects one value per channel, as PyTorch does', (ops) => {
    const bn = unsafeBatchNorm(ops)
    expect(() => bn.apply(ops.ones([1, 3]), 'train')(bn.init(3))).toThrow(/more than 1 value per channel when training, got input shape \[1,3\]/)
    expect(() => bn.apply(ops.ones([1, 1, 1, 3]), 'eval')(bn.init(3))).not.toThrow()
  })

  it('batchNorm eval leaves the statistics unchanged; a channel mismatch names both counts', async (ops) => {
    const bn = unsafeBatchNorm(ops)
    const s0 = bn.init(3)
    const [, s1] = bn.apply(randomBatch(ops, [4, 3], 1), 'eval')(s0)
    expect(Array.from(await ops.read(s1.stats.variance))).toEqual([1, 1, 1])
    expect(Array.from(await ops.read(s1.stats.count))).toEqual([0])
    expect(() => bn.apply(ops.ones([4, 5]), 'train')(s0)).toThrow(/5 channels.*3 channels/)
  })

  it("batchNorm runningVariance 'biased' stores the biased batch variance (Flax/Keras)", async (ops) => {
    const x = ops.tensor([1, 2, 3, 4], [4, 1])
    const biased = unsafeBatchNorm(ops, { decay: 0, runningVariance: 'biased' })
    const unbiased = unsafeBatchNorm(ops, { decay: 0 })
    expect((await ops.read(biased.apply(x, 'train')(biased.init(1))[1].stats.variance))[0]).toBeCloseTo(1.25, 5)
    expect((await ops.read(unbiased.apply(x, 'train')(unbiased.init(1))[1].stats.variance))[0]).toBeCloseTo(5 / 3, 5)
  })

  it('eman normalises with its statistics in both modes: sample i does not depend on the rest of the batch', async (ops) => {
    const bn = unsafeBatchNorm(ops)
    const [, trained] = bn.apply(randomBatch(ops, [8, 2, 2, 3], 3), 'train')(bn.init(3))
    const teacher = unsafeEman(ops)
    const x = randomBatch(ops, [4, 2, 2, 3], 5)
    const other = ops.concat([ops.slice(x, [0, 0, 0, 0], [1, 2, 2, 3]), randomBatch(ops, [3, 2, 2, 3], 9)], 0)
    const [y1, same] = teacher.apply(x, 'train')(trained)
    const [y2] = teacher.apply(other, 'train')(trained)
    const [yAlone] = teacher.apply(ops.slice(x, [0, 0, 0, 0], [1, 2, 2, 3]), 'eval')(trained)
    assertAllClose((await rowsOf(ops, y1))[0]!, (await rowsOf(ops, y2))[0]!, tol())
    assertAllClose((await rowsOf(ops, y1))[0]!, (await rowsOf(ops, yAlone))[0]!, tol())
    expect(Array.from(await ops.read(same.stats.mean))).toEqual(Array.from(await ops.read(trained.stats.mean)))
  })

  it('momentumBatchNorm: train needs the step; views must split the batch', (ops) => {
    const mbn = unsafeMomentumBatchNorm(ops, { totalSteps: 10 })
    expect(() => mbn.apply(ops.ones([4, 2]), 'train')(mbn.init(2))).toThrow(/needs the 0-based training step/)
    expect(() => mbn.apply(ops.ones([5, 2]), 'train', { step: 0, views: 2 })(mbn.init(2))).toThrow(/batch of 5.*2 equal views/)
  })

  it('momentumBatchNorm: after the first update (α_0 = 1) the initial running stats do not matter (M3)', async (ops) => {
    const mbn = unsafeMomentumBatchNorm(ops, { totalSteps: 10 })
    const x = randomBatch(ops, [8, 3], 11)
    const a = mbn.init(3)
    const bInit = { params: a.params, stats: { mean: randomBatch(ops, [3], 2), variance: ops.fill([3], 7), count: a.stats.count } }
    const [, sa] = mbn.apply(x, 'train', { step: 0, views: 2 })(a)
    const [, sb] = mbn.apply(x, 'train', { step: 0, views: 2 })(bInit)
    expect(Array.from(await ops.read(sa.stats.mean))).toEqual(Array.from(await ops.read(sb.stats.mean)))
    expect(Array.from(await ops.read(sa.stats.variance))).toEqual(Array.from(await ops.read(sb.stats.variance)))
  })

  it('momentumBatchNorm: at α = 0 (k ≥ K) train equals eval; swapping the views swaps the outputs (M5, M6)', async (ops) => {
    const mbn = unsafeMomentumBatchNorm(ops, { totalSteps: 4 })
    const s = { params: mbn.init(2).params, stats: { mean: ops.tensor([0.5, -1], [2]), variance: ops.tensor([2, 0.5], [2]), count: ops.scalar(0, 'int32') } }
    const x = randomBatch(ops, [6, 2], 4)
    const [yTrain] = mbn.apply(x, 'train', { step: 4 })(s)
    const [yEval] = mbn.apply(x, 'eval')(s)
    expect(Array.from(await ops.read(yTrain))).toEqual(Array.from(await ops.read(yEval)))
    const v1 = ops.slice(x, [0, 0], [3, 2])
    const v2 = ops.slice(x, [3, 0], [3, 2])
    const [y12, s12] = mbn.apply(ops.concat([v1, v2], 0), 'train', { step: 1, views: 2 })(s)
    const [y21, s21] = mbn.apply(ops.concat([v2, v1], 0), 'train', { step: 1, views: 2 })(s)
    const r12 = await rowsOf(ops, y12)
    const r21 = await rowsOf(ops, y21)
    expect(r12.slice(0, 3)).toEqual(r21.slice(3))
    expect(Array.from(await ops.read(s12.stats.mean))).toEqual(Array.from(await ops.read(s21.stats.mean)))
  })

  it('groupNorm: groups 1 is layerNorm, groupSize 1 is instanceNorm; no batch dependence', async (ops) => {
    const x = randomBatch(ops, [3, 2, 2, 4], 21)
    const s = { params: { gamma: ops.ones([4]), beta: ops.zeros([4]) }, stats: {} }
    const [gn1] = unsafeGroupNorm(ops, { groups: 1 }).apply(x, 'train')(s)
    const [ln] = unsafeLayerNorm(ops).apply(x, 'train')(s)
    expect(Array.from(await ops.read(gn1))).toEqual(Array.from(await ops.read(ln)))
    const [gn4] = unsafeGroupNorm(ops, { groupSize: 1 }).apply(x, 'train')(s)
    const [inorm] = unsafeInstanceNorm(ops).apply(x, 'train')(s)
    expect(Array.from(await ops.read(gn4))).toEqual(Array.from(await ops.read(inorm)))
    const [alone] = unsafeGroupNorm(ops, { groups: 2 }).apply(ops.slice(x, [1, 0, 0, 0], [1, 2, 2, 4]), 'train')(s)
    const [all] = unsafeGroupNorm(ops, { groups: 2 }).apply(x, 'train')(s)
    assertAllClose((await rowsOf(ops, all))[1]!, (await rowsOf(ops, alone))[0]!, tol())
    expect(() => unsafeGroupNorm(ops, { groups: 3 }).init(4)).toThrow(/3 groups do not divide 4 channels/)
  })

  it('weightAlign: zero-mean filters with norm ≈ G·γ (W1, W2); gamma shape checked; layout rank checked', async (ops) => {
    const wa = unsafeWeightAlign(ops, { layout: 'HWIO', gain: 2, epsilon: 1e-12 })
    const w = randomBatch(ops, [3, 3, 2, 4], 8)
    const gamma = ops.tensor([1, 0.5, 2, 1.5], [4])
    const out = wa.transform({ weight: w, gamma })
    const d = Array.from(await ops.read(out))
    for (let o = 0; o < 4; o++) {
      const f = d.filter((_, i) => i % 4 === o)
      expect(Math.abs(f.reduce((a, v) => a + v, 0))).toBeLessThan(1e-4)
      expect(Math.sqrt(f.reduce((a, v) => a + v * v, 0))).toBeCloseTo(2 * [1, 0.5, 2, 1.5][o]!, 4)
    }
    expect(() => wa.transform({ weight: w, gamma: ops.ones([3]) })).toThrow(/expected \[4\]/)
    expect(() => wa.init(ops.ones([3, 4]))).toThrow(/layout 'HWIO' needs a rank-4 weight/)
    const ws = unsafeWeightStandardization(ops, { layout: 'IO' })
    const [report, same] = ws.apply()(ws.init(ops.tensor([1, 2, 3, 4], [2, 2])))
    expect(report.shape).toEqual([2, 2])
    expect(Array.from(await ops.read(same.params.weight))).toEqual([1, 2, 3, 4])
  })
})

describe('normalizer configs', () => {
  const ops = { name: 'none' } as never
  test('invalid values name the field, the value and the fix; all problems at once', () => {
    const r = batchNorm(ops, { decay: 2, epsilon: 0 })
    expect(E.isLeft(r)).toBe(true)
    if (E.isLeft(r)) {
      expect(r.left).toBeInstanceOf(ConfigError)
      expect(r.left.message).toMatch(/field 'decay': got 2; expected a number in \[0, 1\]/)
      expect(r.left.message).toMatch(/field 'epsilon': got 0; expected a finite number > 0/)
      expect((r.left as ConfigError).issues.map((i) => i.field)).toEqual(['decay', 'epsilon'])
    }
  })
  test('unknown fields suggest the closest known one (e.g. a PyTorch name)', () => {
    expect(() => unsafeBatchNorm(ops, { momentum: 0.1 } as never)).toThrow(/field 'momentum'.*unknown field/)
    expect(() => unsafeBatchNorm(ops, { epsilom: 1e-3 } as never)).toThrow(/did you mean 'epsilon'/)
    expect(() => unsafeBatchNorm(ops, { runningVariance: 'bessel' } as never)).toThrow(/one of 'biased', 'unbiased'/)
  })
  test('groupNorm needs exactly one of groups and groupSize; momentumBatchNorm needs totalSteps', () => {
    expect(E.isLeft(groupNorm(ops, {}))).toBe(true)
    expect(() => unsafeGroupNorm(ops, { groups: 2, groupSize: 2 })).toThrow(/exactly one of groups/)
    expect(E.isLeft(momentumBatchNorm(ops, {} as never))).toBe(true)
    expect(() => unsafeMomentumBatchNorm(ops, { totalSteps: 0 })).toThrow(/totalSteps.*integer ≥ 1/)
  })
  test('weightAlign rejects epsilon 0 (a constant filter would be 0/0) and a non-positive gain', () => {
    expect(() => unsafeWeightAlign(ops, { epsilon: 0 })).toThrow(/epsilon/)
    expect(E.isLeft(weightAlign(ops, { gain: -1 }))).toBe(true)
    expect(() => unsafeWeightAlign(ops, { layout: 'NCHW' as never })).toThrow(/one of 'HWIO', 'OIHW'/)
  })
})
