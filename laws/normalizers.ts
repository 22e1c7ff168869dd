/**
 * Normalizer laws: BatchNorm's (docs/methods.md), batch independence (B4, N6, W7), Momentum BN's
 * (§5.4) and WeightAlign's (§5.6).
 *
 * @module laws/normalizers
 */
import { FLOAT32_UNIT_ROUNDOFF } from '../src/core/tolerance.js'
import fc from 'fast-check'
import type { Ops, VarianceEstimator } from '../src/core/ops.js'
import type { Leaf } from '../src/core/tree.js'
import type { BatchNormParams, BatchNormStats } from '../src/norm/batchNorm.js'
import type { Normalizer } from '../src/norm/normalizer.js'
import type { WeightAlignParams } from '../src/norm/weightAlign.js'
import type { WeightNormalizer } from '../src/norm/weightStandardization.js'
import type { WeightLayout } from '../src/norm/weightLayout.js'
import { type VarianceCorrection, varianceFactor } from '../src/norm/momentumBatchNorm.js'
import { type HostTensor, batchShapeArb, logUniformArb, nearEpsilonDataArb, sizeOf, spreadDataArb, tensorArb, uniformArb, valueArb } from './arbitraries.js'
import { tensorLeaves } from '../src/core/memory.js'
import { type Law, closeTo, evaluate, exactlyEqual, leavesInputsUntouched } from './law.js'

const U = FLOAT32_UNIT_ROUNDOFF

// -------------------------------------------------------------------------------------------------
// BatchNorm

/** A BatchNorm-like normalizer and the conventions it claims, which the laws hold it to. */
export interface BatchNormSubject {
  readonly make: <T extends Leaf>(ops: Ops<T>) => Normalizer<T, BatchNormParams<T>, BatchNormStats<T>>
  /** Running-statistics decay (weight on the old value). */
  readonly decay: number
  readonly epsilon: number
  readonly runningVariance: VarianceEstimator
}

const channelMoments = (x: HostTensor): { mean: number[]; variance: number[]; m: number } => {
  const c = x.shape[x.shape.length - 1]!
  const m = sizeOf(x.shape) / c
  const mean = new Array<number>(c).fill(0)
  const variance = new Array<number>(c).fill(0)
  x.data.forEach((v, i) => (mean[i % c]! += v / m))
  x.data.forEach((v, i) => (variance[i % c]! += (v - mean[i % c]!) ** 2 / m))
  return { mean, variance, m }
}

const trainBatchArb = batchShapeArb({ minBatch: 2, maxBatch: 6 }).chain((s) => tensorArb(s, spreadDataArb))

/** A train batch and per-channel affine parameters γ (positive or negative), β. */
const trainAffineArb = trainBatchArb.chain((x) => {
  const c = x.shape[x.shape.length - 1]!
  return fc.tuple(
    fc.constant(x),
    tensorArb([c], (n) =>
      fc.array(
        fc.tuple(logUniformArb(0.1, 3), fc.boolean()).map(([g, neg]) => (neg ? -g : g)),
        { minLength: n, maxLength: n },
      ),
    ),
    tensorArb([c], (n) => fc.array(uniformArb(-3, 3), { minLength: n, maxLength: n })),
  )
})

/** Train output per channel `c` has mean `β_c` and biased variance `γ_c²·σ²/(σ² + ε)` (B1): the affine parameters act per channel, after the normalisation. */
export const bnTrainMoments: Law<BatchNormSubject, readonly [HostTensor, HostTensor, HostTensor]> = {
  name: 'batchNorm.trainMoments',
  statement: 'train mode output per channel c: mean = β_c and biased variance = γ_c²·σ²_B/(σ²_B + ε), for drawn γ and β (B1)',
  arbitrary: () => trainAffineArb,
  predicate:
    (subject, { ops, tolerance }) =>
    async ([x, gamma, beta]) => {
      const c = x.shape[x.shape.length - 1]!
      const norm = subject.make(ops)
      const r = await evaluate(ops, () => {
        const init = norm.init(c)
        const params = { gamma: ops.tensor(gamma.data, [c]), beta: ops.tensor(beta.data, [c]) }
        return { y: norm.apply(ops.tensor(x.data, x.shape), 'train')({ params, stats: init.stats })[0] }
      })
      const inX = channelMoments(x)
      const out = channelMoments({ shape: x.shape, data: r.y })
      // float32: x − μ carries an error of about U·max|x|, so a normalised value is off by U·max|x|/σ (the condition)
      const cond = Math.max(1, ...x.data.map((v, i) => Math.abs(v) / Math.sqrt(inX.variance[i % c]! + subject.epsilon)))
      const tol = Math.max(tolerance.rtol, 16 * U) * 8 * Math.sqrt(inX.m) * cond + tolerance.atol
      return (
        out.mean.every((v, k) => Math.abs(v - beta.data[k]!) <= tol * Math.abs(gamma.data[k]!) + 4 * U * Math.abs(beta.data[k]!)) &&
        out.variance.every((v, k) => {
          const g2 = gamma.data[k]! ** 2
          const s = inX.variance[k]!
          return (
            Math.abs(v - (g2 * s) / (s + subject.epsilon)) <=
            tol * g2 * (1 + s / (s + subject.epsilon)) + 4 * U * Math.abs(beta.data[k]!) * Math.abs(gamma.data[k]!)
          )
        })
      )
    },
}

/** One train step from init: `mean = (1−d)·μ_B`, `variance = d + (1−d)·σ²_B·(M/(M−1) or 1)`, `count = 1` (B2). */
export const bnOneStepStats: Law<BatchNormSubject, HostTensor> = {
  name: 'batchNorm.oneStepStats',
  statement: "one train step from (mean 0, var 1): mean = (1−d)·μ_B, var = d + (1−d)·σ²_B·M/(M−1) ('unbiased') or ·1 ('biased'), count = 1 (B2)",
  arbitrary: () => trainBatchArb,
  predicate:
    (subject, { ops, tolerance }) =>
    async (x) => {
      const c = x.shape[x.shape.length - 1]!
      const norm = subject.make(ops)
      const r = await evaluate(ops, () => {
        const [, s] = norm.apply(ops.tensor(x.data, x.shape), 'train')(norm.init(c))
        return { mean: s.stats.mean, variance: s.stats.variance, count: s.stats.count }
      })
      const { mean, variance, m } = channelMoments(x)
      const d = subject.decay
      const bessel = subject.runningVariance === 'unbiased' ? m / (m - 1) : 1
      const mag = Math.max(1, ...x.data.map(Math.abs))
      const tol = { rtol: Math.max(tolerance.rtol, 16 * U) * 4 * Math.sqrt(m), atol: tolerance.atol + 16 * U * mag * mag }
      return (
        closeTo(
          r.mean,
          mean.map((v) => (1 - d) * v),
          { ...tol, atol: tol.atol / mag },
        ) &&
        closeTo(
          r.variance,
          variance.map((v) => d + (1 - d) * v * bessel),
          tol,
        ) &&
        r.count[0] === 1
      )
    },
}

/** Eval mode returns the statistics unchanged, bitwise (B6). */
export const bnEvalKeepsStats: Law<BatchNormSubject, HostTensor> = {
  name: 'batchNorm.evalKeepsStats',
  statement: 'eval mode returns the statistics unchanged, bitwise (B6)',
  arbitrary: () => trainBatchArb,
  predicate:
    (subject, { ops }) =>
    async (x) => {
      const c = x.shape[x.shape.length - 1]!
      const norm = subject.make(ops)
      const r = await evaluate(ops, () => {
        const [, trained] = norm.apply(ops.tensor(x.data, x.shape), 'train')(norm.init(c))
        const [, after] = norm.apply(
          ops.tensor(
            x.data.map((v) => v * 2 + 1),
            x.shape,
          ),
          'eval',
        )(trained)
        return { before: [trained.stats.mean, trained.stats.variance, trained.stats.count], after: [after.stats.mean, after.stats.variance, after.stats.count] }
      })
      return r.before.every((b, i) => exactlyEqual(b, r.after[i]!))
    },
}

/** Permuting the samples of a batch permutes the train outputs and leaves the statistics equal, up to rounding (B5). */
export const bnPermutation: Law<BatchNormSubject, readonly [HostTensor, number[]]> = {
  name: 'batchNorm.permutation',
  statement: 'train mode is permutation-equivariant over the batch: f(P·x) = P·f(x), statistics equal, up to reduction-order rounding (B5)',
  arbitrary: () =>
    trainBatchArb.chain((x) =>
      fc.tuple(
        fc.constant(x),
        fc.shuffledSubarray(
          Array.from({ length: x.shape[0]! }, (_, i) => i),
          { minLength: x.shape[0]!, maxLength: x.shape[0]! },
        ),
      ),
    ),
  predicate:
    (subject, { ops, tolerance }) =>
    async ([x, perm]) => {
      const c = x.shape[x.shape.length - 1]!
      const per = sizeOf(x.shape) / x.shape[0]!
      const px = perm.flatMap((p) => x.data.slice(p * per, (p + 1) * per))
      const norm = subject.make(ops)
      const r = await evaluate(ops, () => {
        const [y, s] = norm.apply(ops.tensor(x.data, x.shape), 'train')(norm.init(c))
        const [py, ps] = norm.apply(ops.tensor(px, x.shape), 'train')(norm.init(c))
        return { y, py, mean: s.stats.mean, pmean: ps.stats.mean, v: s.stats.variance, pv: ps.stats.variance }
      })
      const yPermuted = perm.flatMap((p) => r.y.slice(p * per, (p + 1) * per))
      const tol = { rtol: Math.max(tolerance.rtol, 64 * U), atol: tolerance.atol + 64 * U * Math.max(1, ...x.data.map(Math.abs)) }
      return (
        closeTo(r.py, yPermuted, { ...tol, atol: 1e-4 }) &&
        closeTo(r.pmean, r.mean, tol) &&
        closeTo(r.pv, r.v, { rtol: tol.rtol, atol: tol.atol * Math.max(1, ...x.data.map(Math.abs)) })
      )
    },
}

/** Train mode is invariant to `a·x + b` per channel, `a > 0`, up to the ε effect (B7). */
export const bnAffineInvariance: Law<BatchNormSubject, readonly [HostTensor, number, number]> = {
  name: 'batchNorm.affineInvariance',
  statement: 'train mode: BN(a·x + b) = BN(x) for a > 0, up to the ε effect ≈ ε/(2a²σ²) (B7)',
  arbitrary: () =>
    batchShapeArb({ minBatch: 3, maxBatch: 6 })
      .chain((s) => tensorArb(s, (n) => fc.array(valueArb(-10, 10), { minLength: n, maxLength: n })))
      .filter((x) => channelMoments(x).variance.every((v) => v > 0.5))
      .chain((x) => fc.tuple(fc.constant(x), uniformArb(1, 8), uniformArb(-50, 50))),
  predicate:
    (subject, { ops, tolerance }) =>
    async ([x, a, b]) => {
      const c = x.shape[x.shape.length - 1]!
      const norm = subject.make(ops)
      const r = await evaluate(ops, () => ({
        y: norm.apply(ops.tensor(x.data, x.shape), 'train')(norm.init(c))[0],
        z: norm.apply(
          ops.tensor(
            x.data.map((v) => a * v + b),
            x.shape,
          ),
          'train',
        )(norm.init(c))[0],
      }))
      const epsEffect = subject.epsilon / (2 * 0.5)
      return closeTo(r.z, r.y, { rtol: 0, atol: epsEffect * 4 + Math.max(tolerance.rtol, 64 * U) * 64 + tolerance.atol })
    },
}

/** Trained-looking BatchNorm state: γ, β, running mean, running variance > 0, and a batch `x`. */
const evalCaseArb = batchShapeArb({ minBatch: 2, maxBatch: 5 }).chain((shape) => {
  const c = shape[shape.length - 1]!
  return fc.record({
    x: tensorArb(shape, spreadDataArb),
    gamma: tensorArb([c], (n) => fc.array(logUniformArb(0.1, 3), { minLength: n, maxLength: n })),
    beta: tensorArb([c], spreadDataArb),
    mean: tensorArb([c], spreadDataArb),
    variance: tensorArb([c], (n) => fc.array(logUniformArb(0.01, 100, false), { minLength: n, maxLength: n })),
  })
})
/** A trained-looking BatchNorm state and a batch: the input of `bnEvalOutput` and `bnInputsUntouched`. */
export type BatchNormEvalCase = {
  readonly x: HostTensor
  readonly gamma: HostTensor
  readonly beta: HostTensor
  readonly mean: HostTensor
  readonly variance: HostTensor
}

const bnState = (ops: Ops<Leaf>, e: BatchNormEvalCase, count: Leaf) => ({
  params: { gamma: ops.tensor(e.gamma.data, e.gamma.shape), beta: ops.tensor(e.beta.data, e.beta.shape) },
  stats: { mean: ops.tensor(e.mean.data, e.mean.shape), variance: ops.tensor(e.variance.data, e.variance.shape), count },
})

/**
 * Eval mode normalises with the stored statistics, `y = γ·(x − mean)/√(variance + ε) + β`, so each
 * sample's output is the one it gets alone (B8): an eval mode that falls back to batch statistics
 * when `N > 1` fails it.
 */
export const bnEvalOutput: Law<BatchNormSubject, BatchNormEvalCase> = {
  name: 'batchNorm.evalOutput',
  statement: 'eval mode: y = γ·(x − mean)/√(variance + ε) + β with the stored statistics, for every sample of any batch (B8)',
  arbitrary: () => evalCaseArb,
  predicate:
    (subject, { ops, tolerance }) =>
    async (e) => {
      const c = e.x.shape[e.x.shape.length - 1]!
      const norm = subject.make(ops)
      const r = await evaluate(ops, () => {
        const state = bnState(ops, e, norm.init(c).stats.count)
        return { y: norm.apply(ops.tensor(e.x.data, e.x.shape), 'eval')(state)[0] }
      })
      const want = e.x.data.map((v, i) => {
        const k = i % c
        return (e.gamma.data[k]! * (v - e.mean.data[k]!)) / Math.sqrt(e.variance.data[k]! + subject.epsilon) + e.beta.data[k]!
      })
      const mag = Math.max(1, ...want.map(Math.abs), ...e.x.data.map((v, i) => Math.abs((e.gamma.data[i % c]! * v) / Math.sqrt(e.variance.data[i % c]!))))
      return closeTo(r.y, want, { rtol: Math.max(tolerance.rtol, 16 * U), atol: tolerance.atol + 16 * Math.max(U, tolerance.rtol) * mag })
    },
}

/** Train and eval leave `x`, the parameters and the statistics they were given untouched, bitwise, and alive (B9). */
export const bnInputsUntouched: Law<BatchNormSubject, BatchNormEvalCase> = {
  name: 'batchNorm.inputsUntouched',
  statement: 'apply(x, mode)(state) leaves x, params and stats as they were, bitwise, and alive, in train and in eval mode (B9)',
  arbitrary: () => evalCaseArb,
  predicate:
    (subject, { ops }) =>
    async (e) => {
      const c = e.x.shape[e.x.shape.length - 1]!
      const norm = subject.make(ops)
      const x = ops.tensor(e.x.data, e.x.shape)
      const state = bnState(ops, e, norm.init(c).stats.count)
      const inputs = [x, state.params.gamma, state.params.beta, state.stats.mean, state.stats.variance, state.stats.count]
      try {
        return (
          (await leavesInputsUntouched(ops, inputs, () => norm.apply(x, 'train')(state))) &&
          (await leavesInputsUntouched(ops, inputs, () => norm.apply(x, 'eval')(state)))
        )
      } finally {
        inputs.forEach((t) => ops.dispose(t))
      }
    },
}

/** BatchNorm's laws. */
export const batchNormLaws = [bnTrainMoments, bnOneStepStats, bnEvalKeepsStats, bnPermutation, bnAffineInvariance, bnEvalOutput, bnInputsUntouched] as const

// -------------------------------------------------------------------------------------------------
// batch independence

/** A forward pass over a channels-last batch whose per-sample independence is in question. */
export interface BatchForwardSubject {
  /** The output for a batch `x` (`[N, ...spatial, C]`, `C = channels`). */
  readonly forward: <T extends Leaf>(ops: Ops<T>, x: T) => T
  readonly channels: number
}

/**
 * The output for sample `i` does not depend on the rest of the batch: it is unchanged when the
 * other samples change, and equals the output of the batch of one (B4, N6, W7). Holds for the EMAN
 * teacher, WeightAlign alone or with GN, GroupNorm, LayerNorm, InstanceNorm, eval-mode BN; FAILS
 * for train-mode BatchNorm (B3).
 */
export const batchIndependence: Law<BatchForwardSubject, readonly [HostTensor, HostTensor]> = {
  name: 'batch.independence',
  statement: 'y_i(batch) = y_i(batch with the other samples replaced) = y(batch of one sample i) (B4/N6/W7); train-mode BN must fail it (B3)',
  arbitrary: (subject) =>
    fc.tuple(fc.integer({ min: 2, max: 5 }), fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 2 })).chain(([n, [h, w]]) => {
      const shape = [n, h!, w!, subject.channels]
      return fc.tuple(tensorArb(shape, spreadDataArb), tensorArb(shape, spreadDataArb))
    }),
  predicate:
    (subject, { ops, tolerance }) =>
    async ([x, other]) => {
      const per = sizeOf(x.shape) / x.shape[0]!
      const mixed = [...x.data.slice(0, per), ...other.data.slice(per)]
      const r = await evaluate(ops, () => ({
        y: subject.forward(ops, ops.tensor(x.data, x.shape)),
        yMixed: subject.forward(ops, ops.tensor(mixed, x.shape)),
        yAlone: subject.forward(ops, ops.tensor(x.data.slice(0, per), [1, ...x.shape.slice(1)])),
      }))
      const outPer = r.y.length / x.shape[0]!
      const first = r.y.slice(0, outPer)
      const tol = { rtol: Math.max(tolerance.rtol, 64 * U), atol: Math.max(tolerance.atol, 1e-5) }
      return closeTo(r.yMixed.slice(0, outPer), first, tol) && closeTo(r.yAlone, first, tol)
    },
}

/** A registered normalizer built for `channels` channels, and its `hasStats` claim (`NormalizerCapabilities`). */
export interface DeclaredNormalizerSubject {
  readonly make: <T extends Leaf>(ops: Ops<T>, channels: number) => Normalizer<T, unknown, unknown>
  readonly hasStats: boolean
}

/**
 * A normalizer keeps statistics exactly when it declares `hasStats`, and eval mode returns them
 * unchanged (N9). A normalizer that keeps statistics it does not declare (or updates them in eval
 * mode) fails it.
 */
export const declaredStats: Law<DeclaredNormalizerSubject, readonly [number, HostTensor]> = {
  name: 'normalizer.declaredStats',
  statement: 'init(C).stats has leaves iff the normalizer declares hasStats, and eval mode returns them unchanged (N9)',
  arbitrary: () => fc.integer({ min: 1, max: 8 }).chain((c) => fc.tuple(fc.constant(c), tensorArb([3, c], spreadDataArb))),
  predicate:
    (subject, { ops }) =>
    async ([c, x]) => {
      const r = await evaluate(ops, () => {
        const n = subject.make(ops, c)
        const s0 = n.init(c)
        const [, s1] = n.apply(ops.tensor(x.data, x.shape), 'eval')(s0)
        return { before: tensorLeaves<Leaf>(s0.stats).map(([, t]) => t), after: tensorLeaves<Leaf>(s1.stats).map(([, t]) => t) }
      })
      return r.before.length > 0 === subject.hasStats && r.after.length === r.before.length && r.before.every((b, i) => exactlyEqual(r.after[i]!, b))
    },
}

// -------------------------------------------------------------------------------------------------
// GroupNorm, LayerNorm, InstanceNorm

/** A group normalizer (GroupNorm, LayerNorm = 1 group, InstanceNorm = one group per channel) and the groups it claims. */
export interface GroupNormSubject {
  /** The normalizer; at `init` γ = 1 and β = 0. */
  readonly make: <T extends Leaf>(ops: Ops<T>) => Normalizer<T, unknown, unknown>
  /** The number of groups for `channels` channels (must divide it). */
  readonly groups: (channels: number) => number
  readonly epsilon: number
}

/**
 * Each sample is normalised over contiguous groups of channels, `G` groups of `C/G` channels,
 * channel `c` in group `⌊c/(C/G)⌋`, all spatial positions: `y = (x − μ_{n,g})/√(σ²_{n,g} + ε)`
 * at init (N7). Interleaved groups (channel c in group c mod G) fail it.
 */
export const gnGroupMoments: Law<GroupNormSubject, HostTensor> = {
  name: 'groupNorm.groupMoments',
  statement: 'y[n, …, c] = (x − μ)/√(σ² + ε) over sample n and the contiguous channel group of c (C/G channels), biased variance, at init γ = 1, β = 0 (N7)',
  arbitrary: (subject) =>
    fc
      .tuple(fc.integer({ min: 1, max: 3 }), fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }), fc.integer({ min: 1, max: 8 }))
      .filter(([, spatial, c]) => {
        const g = subject.groups(c)
        return Number.isInteger(g) && g >= 1 && c % g === 0 && (c / g) * spatial.reduce((a, b) => a * b, 1) >= 2
      })
      .chain(([n, spatial, c]) =>
        tensorArb([n, ...spatial, c], (k) =>
          fc.oneof({ weight: 3, arbitrary: spreadDataArb(k) }, { weight: 1, arbitrary: nearEpsilonDataArb(k, subject.epsilon) }),
        ),
      ),
  predicate:
    (subject, { ops, tolerance }) =>
    async (x) => {
      const c = x.shape[x.shape.length - 1]!
      const n = x.shape[0]!
      const g = subject.groups(c)
      const per = c / g
      const norm = subject.make(ops)
      const r = await evaluate(ops, () => ({ y: norm.apply(ops.tensor(x.data, x.shape), 'train')(norm.init(c) as never)[0] }))
      const perSample = sizeOf(x.shape) / n
      const want = new Array<number>(x.data.length)
      let cond = 1
      for (let s = 0; s < n; s++) {
        for (let grp = 0; grp < g; grp++) {
          const idx: number[] = []
          for (let i = 0; i < perSample; i++) if (Math.floor((i % c) / per) === grp) idx.push(s * perSample + i)
          const mu = idx.reduce((a, i) => a + x.data[i]!, 0) / idx.length
          const v = idx.reduce((a, i) => a + (x.data[i]! - mu) ** 2, 0) / idx.length
          const sd = Math.sqrt(v + subject.epsilon)
          for (const i of idx) {
            want[i] = (x.data[i]! - mu) / sd
            cond = Math.max(cond, Math.abs(x.data[i]!) / sd)
          }
        }
      }
      const tol = { rtol: Math.max(tolerance.rtol, 64 * U), atol: Math.max(tolerance.atol, 1e-4) + 64 * Math.max(U, tolerance.rtol / 8) * cond }
      return closeTo(r.y, want, tol)
    },
}

/** GroupNorm's laws (LayerNorm and InstanceNorm are its special cases). */
export const groupNormLaws = [gnGroupMoments] as const

// -------------------------------------------------------------------------------------------------
// Momentum BN

/** A Momentum BN constructor for a horizon `K`, and the variance conventions it claims (both `'unbiased'` when absent). */
export interface MomentumBnSubject {
  readonly make: <T extends Leaf>(ops: Ops<T>, totalSteps: number) => Normalizer<T, BatchNormParams<T>, BatchNormStats<T>>
  /** The variance the batch is normalised with: `biased`, `unbiased` (×n/(n−1)) or `unbiasedTwice` (×(n/(n−1))²). */
  readonly normalizeVariance?: VarianceCorrection
  /** The variance the running statistics store, with the same choices. */
  readonly storedVariance?: VarianceCorrection
  /** ε, default 1e-5. */
  readonly epsilon?: number
}

/** The correction a subject claims (`'unbiased'` when it says nothing) as a factor over `n` values: `varianceFactor`, as Momentum BN applies it. */
const factorOf = (c: VarianceCorrection | undefined, n: number): number => varianceFactor(c ?? 'unbiased', n)

/** A Momentum BN state at init with running statistics `mean0`, `var0` (the laws start from arbitrary ones). */
const mbnStateFrom = <T extends Leaf>(
  ops: Ops<T>,
  norm: Normalizer<T, BatchNormParams<T>, BatchNormStats<T>>,
  c: number,
  mean0: HostTensor,
  var0: HostTensor,
) => {
  const init = norm.init(c)
  return { params: init.params, stats: { mean: ops.tensor(mean0.data, [c]), variance: ops.tensor(var0.data, [c]), count: init.stats.count } }
}

const mbnArb = batchShapeArb({ minBatch: 2, maxBatch: 3 }).chain((s) => {
  const shape = [s[0]! * 2, ...s.slice(1)]
  const c = s[s.length - 1]!
  return fc.tuple(
    tensorArb(shape, spreadDataArb),
    tensorArb([c], spreadDataArb),
    tensorArb([c], spreadDataArb).map((v) => ({ ...v, data: v.data.map((u) => Math.abs(u) + 0.1) })),
  )
})

/** After the first update (`α_0 = 1`) the running statistics do not depend on the initial ones (M3). */
export const mbnInitialStatsIrrelevant: Law<MomentumBnSubject, readonly [HostTensor, HostTensor, HostTensor]> = {
  name: 'momentumBn.initialStatsIrrelevant',
  statement: 'after the first update (α_0 = 1) the running statistics are the same whatever the initial ones (M3)',
  arbitrary: () => mbnArb,
  predicate:
    (subject, { ops }) =>
    async ([x, mean0, var0]) => {
      const c = x.shape[x.shape.length - 1]!
      const norm = subject.make(ops, 10)
      const r = await evaluate(ops, () => {
        const a = norm.init(c)
        const b = mbnStateFrom(ops, norm, c, mean0, var0)
        const [, sa] = norm.apply(ops.tensor(x.data, x.shape), 'train', { step: 0, views: 2 })(a)
        const [, sb] = norm.apply(ops.tensor(x.data, x.shape), 'train', { step: 0, views: 2 })(b)
        return { ma: sa.stats.mean, mb: sb.stats.mean, va: sa.stats.variance, vb: sb.stats.variance }
      })
      return exactlyEqual(r.ma, r.mb) && exactlyEqual(r.va, r.vb)
    },
}

/** At `k = K` (α = 0) train mode equals eval mode with the running statistics (M5); at `k = 0` (α = 1) it normalises each view with its own statistics (M2, corrected variance). */
export const mbnAlphaEndpoints: Law<MomentumBnSubject, readonly [HostTensor, HostTensor, HostTensor]> = {
  name: 'momentumBn.alphaEndpoints',
  statement:
    'α_K = 0: train output = eval output (running statistics) (M5); α_0 = 1: each view normalised with its own mean and its variance corrected as the subject claims (M2)',
  arbitrary: () => mbnArb,
  predicate:
    (subject, { ops, tolerance }) =>
    async ([x, mean0, var0]) => {
      const c = x.shape[x.shape.length - 1]!
      const K = 7
      const norm = subject.make(ops, K)
      const r = await evaluate(ops, () => {
        const s = mbnStateFrom(ops, norm, c, mean0, var0)
        const xt = ops.tensor(x.data, x.shape)
        return {
          end: norm.apply(xt, 'train', { step: K, views: 2 })(s)[0],
          evalY: norm.apply(xt, 'eval')(s)[0],
          start: norm.apply(xt, 'train', { step: 0, views: 2 })(s)[0],
        }
      })
      const half = x.data.length / 2
      const want: number[] = []
      let cond = 1
      for (const v of [x.data.slice(0, half), x.data.slice(half)]) {
        const { mean, variance, m } = channelMoments({ shape: [half / c, c], data: v })
        v.forEach((u, i) => {
          const sd = Math.sqrt(variance[i % c]! * factorOf(subject.normalizeVariance, m) + (subject.epsilon ?? 1e-5))
          cond = Math.max(cond, Math.abs(u) / sd, Math.abs(mean[i % c]!) / sd)
          want.push((u - mean[i % c]!) / sd)
        })
      }
      // float32 error of a normalised value grows with the condition |x|/σ (cancellation in x − μ)
      const tol = { rtol: Math.max(tolerance.rtol, 64 * U), atol: Math.max(tolerance.atol, 1e-4) + 64 * Math.max(U, tolerance.rtol / 8) * cond }
      return closeTo(r.end, r.evalY, tol) && closeTo(r.start, want, tol)
    },
}

/**
 * At `α = 1` (step 0) the stored statistics are the views' average batch statistics, the variance
 * corrected as the subject claims for storage (`storedVariance`), independently of the correction
 * it normalises with (M7): plain BN (normalise biased, store unbiased), polyak's default (both
 * unbiased) and the reference's double correction are each checked against their own claim.
 */
export const mbnStoredVariance: Law<MomentumBnSubject, readonly [HostTensor, HostTensor, HostTensor]> = {
  name: 'momentumBn.storedVariance',
  statement:
    'after a step at α = 1 from count 0: mean = (1/V)Σ_v μ_v, variance = f_S·(1/V)Σ_v σ²_v, f_S the claimed storage correction (1, n/(n−1) or (n/(n−1))²), and count = 1 (M7)',
  arbitrary: () => mbnArb,
  predicate:
    (subject, { ops, tolerance }) =>
    async ([x, mean0, var0]) => {
      const c = x.shape[x.shape.length - 1]!
      const norm = subject.make(ops, 10)
      const r = await evaluate(ops, () => {
        const s = mbnStateFrom(ops, norm, c, mean0, var0)
        const [, next] = norm.apply(ops.tensor(x.data, x.shape), 'train', { step: 0, views: 2 })(s)
        return { mean: next.stats.mean, variance: next.stats.variance, count: next.stats.count }
      })
      const half = x.data.length / 2
      const views = [x.data.slice(0, half), x.data.slice(half)].map((v) => channelMoments({ shape: [half / c, c], data: v }))
      const m = views[0]!.m
      const wantMean = Array.from({ length: c }, (_, k) => (views[0]!.mean[k]! + views[1]!.mean[k]!) / 2)
      const wantVar = Array.from({ length: c }, (_, k) => (factorOf(subject.storedVariance, m) * (views[0]!.variance[k]! + views[1]!.variance[k]!)) / 2)
      const mag = Math.max(1, ...x.data.map(Math.abs))
      const tol = { rtol: Math.max(tolerance.rtol, 64 * U), atol: tolerance.atol + 64 * U * mag * mag }
      return closeTo(r.mean, wantMean, { ...tol, atol: tol.atol / mag }) && closeTo(r.variance, wantVar, tol) && r.count[0] === 1
    },
}

/** Momentum BN's laws. */
export const momentumBnLaws = [mbnInitialStatsIrrelevant, mbnAlphaEndpoints, mbnStoredVariance] as const

// -------------------------------------------------------------------------------------------------
// WeightAlign

/** A WeightAlign constructor for a layout, with the gain it applies. */
export interface WeightAlignSubject {
  readonly make: <T extends Leaf>(ops: Ops<T>, layout: WeightLayout) => WeightNormalizer<T, WeightAlignParams<T>>
  readonly gain: number
  readonly epsilon: number
}

/** An OIHW weight `[O, I, kH, kW]` and a per-filter γ. */
const oihwArb = fc
  .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }))
  .chain(([o, i, k]) =>
    fc.tuple(
      tensorArb([o, i, k, k], (n) =>
        fc
          .tuple(fc.integer({ min: 0, max: 2 }), fc.array(valueArb(-1, 1), { minLength: n, maxLength: n }))
          .map(([e, xs]) => xs.map((v) => Math.fround(v * 10 ** e))),
      ),
      tensorArb([o], (n) => fc.array(valueArb(0.1, 3), { minLength: n, maxLength: n })),
    ),
  )
  .filter(([w]) => perFilter(w).every((f) => variance(f) > 1e-3))

const perFilter = (w: HostTensor): number[][] => {
  const o = w.shape[0]!
  const n = sizeOf(w.shape) / o
  return Array.from({ length: o }, (_, i) => w.data.slice(i * n, (i + 1) * n) as number[])
}
const variance = (f: readonly number[]): number => {
  const m = f.reduce((a, b) => a + b, 0) / f.length
  return f.reduce((a, b) => a + (b - m) ** 2, 0) / f.length
}

const waOf = async (subject: WeightAlignSubject, ops: Ops<Leaf>, w: HostTensor, gamma: HostTensor, layout: WeightLayout = 'OIHW') => {
  const wa = subject.make(ops, layout)
  return (await evaluate(ops, () => ({ out: wa.transform({ weight: ops.tensor(w.data, w.shape), gamma: ops.tensor(gamma.data, gamma.shape) }) }))).out
}

/** Every output filter of `WA(W)` has zero mean (W1) and norm `G·γ_o·σ_o/√(σ²_o + ε)` (W2). */
export const waZeroMeanFixedNorm: Law<WeightAlignSubject, readonly [HostTensor, HostTensor]> = {
  name: 'weightAlign.zeroMeanFixedNorm',
  statement: 'each output filter: Σ_j Ŵ_oj = 0 (W1) and ‖Ŵ_o‖ = G·γ_o·σ_o/√(σ²_o + ε) (W2)',
  arbitrary: () => oihwArb,
  predicate:
    (subject, { ops, tolerance }) =>
    async ([w, gamma]) => {
      const out = await waOf(subject, ops, w, gamma)
      const n = sizeOf(w.shape) / w.shape[0]!
      return perFilter({ shape: w.shape, data: out }).every((f, o) => {
        const sum = f.reduce((a, b) => a + b, 0)
        const norm = Math.sqrt(f.reduce((a, b) => a + b * b, 0))
        const s2 = variance(perFilter(w)[o]!)
        const want = subject.gain * gamma.data[o]! * Math.sqrt(s2 / (s2 + subject.epsilon))
        const maxAbs = Math.max(...f.map(Math.abs))
        return (
          Math.abs(sum) <= 8 * n * Math.max(U, tolerance.rtol) * maxAbs + tolerance.atol &&
          Math.abs(norm - want) <= (8 * Math.sqrt(n) * Math.max(U, tolerance.rtol) + tolerance.rtol) * want + tolerance.atol
        )
      })
    },
}

/** `WA(a·W) = WA(W)` for `a > 0` when `a²σ² ≫ ε` (W3). */
export const waScaleInvariance: Law<WeightAlignSubject, readonly [readonly [HostTensor, HostTensor], number]> = {
  name: 'weightAlign.scaleInvariance',
  statement: 'WA(a·W) = WA(W) for a > 0 with a²σ² ≥ 1e3·ε (W3)',
  arbitrary: (subject) =>
    fc.tuple(
      oihwArb.filter(([w]) => perFilter(w).every((f) => variance(f) >= 1e3 * subject.epsilon)),
      uniformArb(1, 100),
    ),
  predicate:
    (subject, { ops, tolerance }) =>
    async ([[w, gamma], a]) => {
      const base = await waOf(subject, ops, w, gamma)
      const scaled = await waOf(subject, ops, { shape: w.shape, data: w.data.map((v) => Math.fround(a * v)) }, gamma)
      const mag = Math.max(...base.map(Math.abs))
      // the ε effect: Ŵ ∝ σ/√(σ² + ε) ≈ 1 − ε/(2σ²), so scaling by a ≥ 1 changes Ŵ by at most ε/(2σ²) relative
      const epsEffect = subject.epsilon / (2 * Math.min(...perFilter(w).map(variance)))
      return closeTo(scaled, base, { rtol: 0, atol: (Math.max(tolerance.rtol, 64 * U) + epsEffect) * mag + tolerance.atol })
    },
}

/** WA on OIHW then transposed to HWIO equals WA on HWIO (W11). */
export const waLayout: Law<WeightAlignSubject, readonly [HostTensor, HostTensor]> = {
  name: 'weightAlign.layout',
  statement: 'WA on OIHW transposed to HWIO equals WA on the HWIO weight (W11)',
  arbitrary: () => oihwArb,
  predicate:
    (subject, { ops, tolerance }) =>
    async ([w, gamma]) => {
      const [o, i, kh, kw] = w.shape as [number, number, number, number]
      const toHwio = (d: readonly number[]): number[] => {
        const out = new Array<number>(d.length)
        for (let a = 0; a < o; a++)
          for (let b = 0; b < i; b++)
            for (let h = 0; h < kh; h++) for (let x = 0; x < kw; x++) out[((h * kw + x) * i + b) * o + a] = d[((a * i + b) * kh + h) * kw + x]!
        return out
      }
      const viaOihw = toHwio(await waOf(subject, ops, w, gamma, 'OIHW'))
      const direct = await waOf(subject, ops, { shape: [kh, kw, i, o], data: toHwio(w.data) }, gamma, 'HWIO')
      return closeTo(direct, viaOihw, { rtol: Math.max(tolerance.rtol, 64 * U), atol: tolerance.atol + 1e-6 })
    },
}

/** A constant filter gives zeros and no NaN (W10, with ε > 0). */
export const waConstantFilter: Law<WeightAlignSubject, readonly [number, number]> = {
  name: 'weightAlign.constantFilter',
  statement: 'a constant filter (σ = 0) gives Ŵ_o ≈ 0 and no NaN or Inf (W10)',
  arbitrary: () => fc.tuple(valueArb(-10, 10), fc.integer({ min: 1, max: 27 })),
  predicate:
    (subject, { ops }) =>
    async ([c, n]) => {
      const out = await waOf(subject, ops, { shape: [2, n, 1, 1], data: new Array<number>(2 * n).fill(c) }, { shape: [2], data: [1, 1] })
      return out.every((v) => Number.isFinite(v) && Math.abs(v) <= 1e-3)
    },
}

/** OIHW weights whose filters have variances σ² = ε·10^u, u ∈ [−1, 1]: where ε's place decides the output. */
const nearEpsilonWeightArb = (epsilon: number) =>
  fc
    .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }))
    .filter(([, i, k]) => i * k * k >= 2)
    .chain(([o, i, k]) =>
      fc.tuple(
        fc.array(nearEpsilonDataArb(i * k * k, epsilon), { minLength: o, maxLength: o }).map((fs) => ({ shape: [o, i, k, k], data: fs.flat() }) as HostTensor),
        tensorArb([o], (n) => fc.array(logUniformArb(0.1, 3, false), { minLength: n, maxLength: n })),
      ),
    )

/**
 * ε sits inside the square root, per filter: `Ŵ_o = G·γ_o·(w_o − μ_o)/√(N·(σ²_o + ε))`, checked
 * where it matters, on filters with `σ² ∈ [0.1·ε, 10·ε]` (W12). ε outside the root (`…/(√(N·σ²) + ε)`)
 * or scaled by N fails it.
 */
export const waEpsilonPlacement: Law<WeightAlignSubject, readonly [HostTensor, HostTensor]> = {
  name: 'weightAlign.epsilonPlacement',
  statement: 'Ŵ_o = G·γ_o·(w_o − μ_o)/√(N·(σ²_o + ε)) on filters with σ² between 0.1·ε and 10·ε (W12)',
  arbitrary: (subject) => nearEpsilonWeightArb(subject.epsilon),
  predicate:
    (subject, { ops, tolerance }) =>
    async ([w, gamma]) => {
      const out = await waOf(subject, ops, w, gamma)
      const filters = perFilter(w)
      const n = filters[0]!.length
      const want = filters.flatMap((f, o) => {
        const mu = f.reduce((a, b) => a + b, 0) / n
        const s2 = variance(f)
        return f.map((v) => (subject.gain * gamma.data[o]! * (v - mu)) / Math.sqrt(n * (s2 + subject.epsilon)))
      })
      const mag = Math.max(...want.map(Math.abs))
      // float32: the deviations are ~√ε, their offset ≤ 0.01, so a deviation carries ~U·0.01/√ε relative error
      return closeTo(out, want, { rtol: Math.max(tolerance.rtol, 1e-3), atol: tolerance.atol * mag + 1e-3 * mag })
    },
}

/** WeightAlign's laws. */
export const weightAlignLaws = [waZeroMeanFixedNorm, waScaleInvariance, waLayout, waConstantFilter, waEpsilonPlacement] as const

// -------------------------------------------------------------------------------------------------
// weight standardisation

/** A weight-standardisation constructor for a layout, and the conventions it claims. */
export interface WeightStandardizationSubject {
  readonly make: <T extends Leaf>(ops: Ops<T>, layout: WeightLayout) => WeightNormalizer<T, { readonly weight: T }>
  /** The variance estimator of each filter: `biased` (1/N) or `unbiased` (1/(N − 1)). */
  readonly estimator: VarianceEstimator
  readonly epsilon: number
  /** `variance`: divide by `√(σ² + ε)`; `std`: divide by `σ + ε`. */
  readonly epsilonPlacement: 'variance' | 'std'
}

/** OIHW weights with at least 2 values per filter: spread filters, or filters whose σ² is within a decade of ε (where the estimator and ε's place decide). */
const wsWeightArb = (epsilon: number) =>
  fc
    .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.boolean())
    .filter(([, i, k]) => i * k * k >= 2)
    .chain(([o, i, k, near]) =>
      fc
        .array(near ? nearEpsilonDataArb(i * k * k, epsilon) : fc.array(valueArb(-2, 2), { minLength: i * k * k, maxLength: i * k * k }), {
          minLength: o,
          maxLength: o,
        })
        .map((fs) => ({ shape: [o, i, k, k], data: fs.flat() }) as HostTensor),
    )
    .filter((w) => perFilter(w).every((f) => variance(f) > 0))

/**
 * Each output filter is standardised as claimed (W13): `ŵ_o = (w_o − μ_o)/D_o` with
 * `σ²_o = Σ(w − μ_o)²/N` (biased) or `/(N − 1)` (unbiased), and `D_o = √(σ²_o + ε)` (`variance`)
 * or `σ_o + ε` (`std`); checked on filters with σ² near ε, where the estimator and ε's place
 * change the result, and on spread ones.
 */
export const wsFilterMoments: Law<WeightStandardizationSubject, HostTensor> = {
  name: 'weightStandardization.filterMoments',
  statement: "each filter: ŵ = (w − μ)/D, σ² biased (1/N) or unbiased (1/(N − 1)) as claimed, D = √(σ² + ε) ('variance') or σ + ε ('std') (W13)",
  arbitrary: (subject) => wsWeightArb(subject.epsilon),
  predicate:
    (subject, { ops, tolerance }) =>
    async (w) => {
      const ws = subject.make(ops, 'OIHW')
      const out = (await evaluate(ops, () => ({ out: ws.transform({ weight: ops.tensor(w.data, w.shape) }) }))).out
      const filters = perFilter(w)
      const n = filters[0]!.length
      const want = filters.flatMap((f) => {
        const mu = f.reduce((a, b) => a + b, 0) / n
        const s2 = (variance(f) * n) / (subject.estimator === 'unbiased' ? n - 1 : n)
        const d = subject.epsilonPlacement === 'variance' ? Math.sqrt(s2 + subject.epsilon) : Math.sqrt(s2) + subject.epsilon
        return f.map((v) => (v - mu) / d)
      })
      const mag = Math.max(...want.map(Math.abs))
      // float32 as in W12: deviations near √ε carry a relative error of about U·offset/√ε
      return closeTo(out, want, { rtol: Math.max(tolerance.rtol, 1e-3), atol: tolerance.atol * mag + 1e-3 * mag })
    },
}

/** Weight standardisation's laws. */
export const weightStandardizationLaws = [wsFilterMoments] as const
