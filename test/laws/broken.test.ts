/**
 * The laws can fail: every law is fed a deliberately broken subject, and the runner must reject it.
 * A law that passes a broken subject is a defect. Run on the cpu backend (float32), where rounding
 * behaves as it does for users.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import {
  type BatchNormParams,
  type BatchNormStats,
  type Leaf,
  type Normalizer,
  type Ops,
  type Slots,
  type Transition,
  unsafeTeacherUpdate,
  tfOps,
  transition,
  unsafeBatchNorm,
  unsafeEma,
  unsafeGroupNorm,
  unsafeLayerNorm,
  unsafeMomentumBatchNorm,
  unsafeWeightAlign,
  tree,
} from 'polyak'
import {
  type BatchForwardSubject,
  type BatchNormSubject,
  type EmaStep,
  type MomentumBnSubject,
  type SomeLaw,
  type TeacherUpdateSubject,
  type TransitionSubject,
  type WeightAlignSubject,
  LawError,
  assertLaws,
  axpbyDonation,
  backendConformance,
  batchIndependence,
  bnAffineInvariance,
  bnEvalKeepsStats,
  bnOneStepStats,
  bnPermutation,
  bnTrainMoments,
  emaClosedForm,
  emaConvexity,
  emaCopy,
  emaDebias,
  emaFixedPoint,
  emaIdentity,
  emaOrder,
  mbnAlphaEndpoints,
  mbnInitialStatsIrrelevant,
  polyakBatchNorm,
  polyakEmaStep,
  polyakMomentumBn,
  polyakTeacherUpdate,
  polyakWeightAlign,
  teacherEmanDoubleEma,
  teacherIntegersCopied,
  teacherKeepAndEma,
  teacherRejectsMismatch,
  transitionNoLeak,
  transitionPurity,
  transitionShapes,
  waConstantFilter,
  waLayout,
  waScaleInvariance,
  waZeroMeanFixedNorm,
  type GroupNormSubject,
  bnEvalOutput,
  bnInputsUntouched,
  emaInputsUntouched,
  gnGroupMoments,
  mbnStoredVariance,
  polyakGroupNorms,
  polyakMomentumBnPlain,
  teacherInputsUntouched,
  teacherPerLeafPolicy,
  waEpsilonPlacement,
  shapesAgree,
} from 'polyak/laws'
import { shapeOps } from 'polyak'
import { unsafeUseBackend } from 'polyak/backends'
import * as tf from '@tensorflow/tfjs-core'

let ops: Ops<Leaf>
beforeAll(async () => {
  ops = (await unsafeUseBackend('cpu')).ops
})

/** The runner rejects `subject` on `law` (with the seed in the message), and accepts polyak's own subject. */
const rejects = async <S>(law: SomeLaw<S>, broken: S, good: S): Promise<void> => {
  await expect(assertLaws('polyak', good, [law], ops, { numRuns: 60 })).resolves.toHaveLength(1)
  const failure = assertLaws('broken', broken, [law], ops, { numRuns: 200 })
  await expect(failure).rejects.toBeInstanceOf(LawError)
  await expect(failure).rejects.toThrow(new RegExp(`law ${law.name.replace('.', '\\.')} failed for broken \\(seed -?\\d+\\)`))
}

describe('EMA laws reject broken EMA steps', () => {
  const swapped: EmaStep = (o, avg, x, d) => o.axpby(1 - d, avg, d, x) // weight on the NEW value
  const oneSidedLerp: EmaStep = (o, avg, x, d) => o.add(avg, o.scale(o.sub(x, avg), 1 - d))
  const biased: EmaStep = (o, avg, x, d) => o.shift(o.axpby(d, avg, 1 - d, x), 1e-3)
  const overshoot: EmaStep = (o, avg, x, d) => o.axpby(d, avg, 1.5 * (1 - d), x)
  const plainAverage: EmaStep = (o, avg, x) => o.axpby(0.5, avg, 0.5, x)
  it('identity: swapped momentum convention', () => rejects(emaIdentity, swapped, polyakEmaStep))
  it('copy: the one-sided lerp θ + (1−d)(x − θ)', () => rejects(emaCopy, oneSidedLerp, polyakEmaStep))
  it('fixedPoint: an update with a bias', () => rejects(emaFixedPoint, biased, polyakEmaStep))
  it('closedForm: swapped momentum convention', () => rejects(emaClosedForm, swapped, polyakEmaStep))
  it('convexity: an update that overshoots', () => rejects(emaConvexity, overshoot, polyakEmaStep))
  it('order: a plain average', () => rejects(emaOrder, plainAverage, polyakEmaStep))
  it('debias: an EMA that reports the biased average', () =>
    rejects(emaDebias, { make: (o, decay) => unsafeEma(o, { decay }) }, { make: (o, decay) => unsafeEma(o, { decay, debias: true }) }))
})

describe('teacher laws reject broken teacher updates', () => {
  /** Averages every leaf, ignoring the policy, and integer leaves in float (timm ModelEmaV2 style). */
  const averagesEverything: TeacherUpdateSubject = (o0, student, teacher, decay) => {
    const o = o0 as unknown as Ops<Leaf>
    return {
      params: zipWithPaths(teacher.params, student.params, (t, s) => o.axpby(decay, t, 1 - decay, s)),
      stats: zipWithPaths(teacher.stats, student.stats, (t, s) => o.axpby(decay, t, 1 - decay, s)),
    }
  }
  /** Pairs leaves by position, without checking paths or shapes (Momentum² Teacher's zip). */
  const byPosition: TeacherUpdateSubject = (o0, student, teacher, decay) => {
    const o = o0 as unknown as Ops<Leaf>
    const sl = leavesOf(student.params)
    let i = 0
    const params = mapLeaves(teacher.params, (t) => {
      const s = sl[i++]
      return s === undefined || s.shape.length !== t.shape.length
        ? o.clone(t)
        : o.axpby(
            decay,
            t,
            1 - decay,
            o.broadcastTo(
              o.slice(
                s,
                s.shape.map(() => 0),
                s.shape.map((d, k) => Math.min(d, t.shape[k]!)),
              ),
              t.shape,
            ),
          )
    })
    return { params, stats: mapLeaves(teacher.stats, (t) => o.clone(t)) }
  }
  /** A classic BN teacher: parameters averaged, statistics kept (no EMAN). */
  const keepsStats: TeacherUpdateSubject = (o, student, teacher, decay) =>
    unsafeTeacherUpdate(o, { decay, policy: (slot) => (slot === 'params' ? 'ema' : 'keep') })(student)(teacher)[1]
  it('keepAndEma: an update that ignores the policy', () => rejects(teacherKeepAndEma, averagesEverything, polyakTeacherUpdate))
  it('integersCopied: integer counters averaged in float', () => rejects(teacherIntegersCopied, averagesEverything, polyakTeacherUpdate))
  it('rejectsMismatch: pairing by position', () => rejects(teacherRejectsMismatch, byPosition, polyakTeacherUpdate))
  it('emanDoubleEma: a teacher that keeps its own BN statistics', () => rejects(teacherEmanDoubleEma, keepsStats, polyakTeacherUpdate))
})

/** A BatchNorm whose apply is replaced. */
const bnWith = (
  apply: <T extends Leaf>(
    o: Ops<T>,
    inner: Normalizer<T, BatchNormParams<T>, BatchNormStats<T>>,
  ) => Normalizer<T, BatchNormParams<T>, BatchNormStats<T>>['apply'],
  claims: Partial<BatchNormSubject> = {},
): BatchNormSubject => ({
  ...polyakBatchNorm,
  ...claims,
  make: (o) => {
    const inner = unsafeBatchNorm(o)
    return { ...inner, apply: apply(o, inner) }
  },
})

describe('BatchNorm laws reject broken BatchNorms', () => {
  const runningInTrain = bnWith((o, inner) => (x) => inner.apply(x, 'eval'))
  const storesBiased: BatchNormSubject = { ...polyakBatchNorm, make: (o) => unsafeBatchNorm(o, { runningVariance: 'biased' }) }
  const evalUpdates = bnWith((o, inner) => (x) => inner.apply(x, 'train'))
  const firstSample = bnWith(
    (o) => (x) =>
      transition(o, (s) => [
        o.sub(
          x,
          o.slice(
            x,
            x.shape.map(() => 0),
            [1, ...x.shape.slice(1)],
          ),
        ),
        s,
      ]),
  )
  const noCentering = bnWith(
    (o) => (x) =>
      transition(o, (s) => {
        const axes = x.shape.slice(0, -1).map((_, i) => i)
        return [o.mul(x, o.rsqrt(o.shift(o.moments(x, axes).variance, 1e-5))), s]
      }),
  )
  it('trainMoments: normalising with running statistics in train mode', () => rejects(bnTrainMoments, runningInTrain, polyakBatchNorm))
  it('oneStepStats: a biased/unbiased swap (claims unbiased, stores biased)', () => rejects(bnOneStepStats, storesBiased, polyakBatchNorm))
  it('evalKeepsStats: eval mode that updates the statistics', () => rejects(bnEvalKeepsStats, evalUpdates, polyakBatchNorm))
  it('permutation: normalising against the first sample', () => rejects(bnPermutation, firstSample, polyakBatchNorm))
  it('affineInvariance: scaling without centring', () => rejects(bnAffineInvariance, noCentering, polyakBatchNorm))
})

describe('batch independence rejects cross-sample leaks', () => {
  const good: BatchForwardSubject = {
    channels: 3,
    forward: (o, x) => {
      const n = unsafeLayerNorm(o)
      return n.apply(x, 'train')(n.init(3))[0]
    },
  }
  const leaky: BatchForwardSubject = {
    channels: 3,
    forward: (o, x) => {
      const n = unsafeLayerNorm(o)
      return o.add(n.apply(x, 'train')(n.init(3))[0], o.scale(o.mean(x, [0], true), 0.1))
    },
  }
  const trainBn: BatchForwardSubject = {
    channels: 3,
    forward: (o, x) => {
      const n = unsafeBatchNorm(o)
      return n.apply(x, 'train')(n.init(3))[0]
    },
  }
  it('a LayerNorm plus a tenth of the batch mean', () => rejects(batchIndependence, leaky, good))
  it('train-mode BatchNorm', () => rejects(batchIndependence, trainBn, good))
})

describe('Momentum BN laws reject broken Momentum BNs', () => {
  const lateStart: MomentumBnSubject = {
    make: (o, K) => {
      const inner = unsafeMomentumBatchNorm(o, { totalSteps: K })
      return { ...inner, apply: (x, mode, ctx = {}) => inner.apply(x, mode, { ...ctx, step: (ctx.step ?? 0) + 2 }) }
    },
  }
  const doubleBessel: MomentumBnSubject = { make: (o, K) => unsafeMomentumBatchNorm(o, { totalSteps: K, referenceDoubleBessel: true }) }
  it('initialStatsIrrelevant: a schedule that does not start at α = 1', () => rejects(mbnInitialStatsIrrelevant, lateStart, polyakMomentumBn))
  it('alphaEndpoints: the double Bessel correction', () => rejects(mbnAlphaEndpoints, doubleBessel, polyakMomentumBn))
})

describe('WeightAlign laws reject broken WeightAligns', () => {
  const wrongGain: WeightAlignSubject = { ...polyakWeightAlign, make: (o, layout) => unsafeWeightAlign(o, { layout, gain: 1 }) }
  const bigEpsilon: WeightAlignSubject = { ...polyakWeightAlign, make: (o, layout) => unsafeWeightAlign(o, { layout, epsilon: 1 }) }
  const ignoresLayout: WeightAlignSubject = { ...polyakWeightAlign, make: (o) => unsafeWeightAlign(o, { layout: 'OIHW' }) }
  const noGuard: WeightAlignSubject = {
    ...polyakWeightAlign,
    make: (o, layout) => {
      const inner = unsafeWeightAlign(o, { layout })
      return {
        ...inner,
        transform: ({ weight }) => {
          const m = o.moments(weight, [1, 2, 3], { keepDims: true })
          return o.div(o.sub(weight, m.mean), o.sqrt(o.scale(m.variance, 9)))
        },
      }
    },
  }
  it('zeroMeanFixedNorm: the wrong gain', () => rejects(waZeroMeanFixedNorm, wrongGain, polyakWeightAlign))
  it('scaleInvariance: an epsilon that dominates the variance', () => rejects(waScaleInvariance, bigEpsilon, polyakWeightAlign))
  it('layout: reducing over the OIHW axes of an HWIO weight', () => rejects(waLayout, ignoresLayout, polyakWeightAlign))
  it('constantFilter: no epsilon guard (0/0)', () => rejects(waConstantFilter, noGuard, polyakWeightAlign))
})

describe('transition laws reject impure, reshaping and leaking transitions', () => {
  const good: TransitionSubject = {
    make: (o) => {
      const bn = unsafeBatchNorm(o)
      return { init: () => bn.init(3), step: (x) => bn.apply(x, 'train') as never, inputShape: [4, 3] }
    },
  }
  let calls = 0
  const impure: TransitionSubject = {
    make: (o) => {
      const bn = unsafeBatchNorm(o)
      return {
        init: () => bn.init(3),
        step: (x) =>
          ((s: never) => {
            calls += 1
            return bn.apply(o.shift(x, calls), 'train')(s)
          }) as never,
        inputShape: [4, 3],
      }
    },
  }
  const reshaping: TransitionSubject = {
    make: (o) => ({
      init: () => ({ params: { w: o.zeros([3]) }, stats: {} }),
      step: () =>
        transition(o as unknown as Ops<Leaf>, (s: Slots<{ w: Leaf }, object>) => [
          undefined,
          { params: { w: (o as unknown as Ops<Leaf>).concat([s.params.w, s.params.w], 0) }, stats: s.stats },
        ]) as never,
      inputShape: [4, 3],
    }),
  }
  const leaking: TransitionSubject = {
    make: (o) => {
      const bn = unsafeBatchNorm(o)
      return {
        init: () => bn.init(3),
        step: (x) =>
          transition(o, (s: Slots<BatchNormParams<typeof x>, BatchNormStats<typeof x>>) => {
            o.keep(o.add(x, x))
            return bn.apply(x, 'train')(s)
          }) as unknown as never,
        inputShape: [4, 3],
      }
    },
  }
  it('purity: a transition with hidden state', () => rejects(transitionPurity, impure, good))
  it('shapes: a transition that changes a leaf shape', () => rejects(transitionShapes, reshaping, good))
  it('noLeak: a transition that keeps an intermediate', () => rejects(transitionNoLeak, leaking, good))
})

describe('the donation law rejects a donated path that changes the result', () => {
  it('a donated axpby that swaps its operands', async () => {
    const broken: Ops<Leaf> = {
      ...(tfOps as unknown as Ops<Leaf>),
      name: 'broken',
      axpby: (a, x, b, y, o) => (o?.donate === true ? tfOps.axpby(a, y as never, b, x as never) : tfOps.axpby(a, x as never, b, y as never)) as never,
    }
    await expect(assertLaws('cpu', ops, [axpbyDonation], ops, { numRuns: 50 })).resolves.toHaveLength(1)
    await expect(assertLaws('broken', broken, [axpbyDonation], broken, { numRuns: 200 })).rejects.toThrow(/law backend\.axpbyDonation failed for broken/)
  })
})

describe('backend conformance rejects a broken backend', () => {
  it('an add that is off by 1e-3 relative', async () => {
    const broken: Ops<Leaf> = {
      ...(tfOps as unknown as Ops<Leaf>),
      name: 'broken',
      add: (a, b) => tfOps.scale(tfOps.add(a as never, b as never), 1.001) as never,
    }
    await expect(assertLaws('cpu', ops, [backendConformance], ops, { numRuns: 100 })).resolves.toHaveLength(1)
    await expect(assertLaws('broken', broken, [backendConformance], broken, { numRuns: 200 })).rejects.toThrow(/law backend\.conformance failed for broken/)
  })
})

// -------------------------------------------------------------------------------------------------
// round 2: the bugs users actually write, each caught, each with a fixed twin that passes

/** Writes `values` into tensor `t`'s storage on the cpu backend, as a buggy in-place update would. */
const writeInPlace = (t: Leaf, values: ArrayLike<number>): void => {
  const backend = tf.backend() as unknown as { data: { get: (id: unknown) => { values: Float32Array | Int32Array } } }
  backend.data.get((t as tf.Tensor).dataId).values.set(Array.from(values))
}

describe('round 2: GroupNorm group moments', () => {
  const groupNorm2 = polyakGroupNorms[0]!.subject
  /** GroupNorm with interleaved groups: channel c in group c mod G. */
  const interleaved: GroupNormSubject = {
    ...groupNorm2,
    make: <T extends Leaf>(o: Ops<T>) => {
      const inner = unsafeGroupNorm(o, { groups: 2 })
      return {
        ...inner,
        apply: (x: T) =>
          transition(o, (s: Slots<unknown, unknown>) => {
            const c = x.shape[x.shape.length - 1]!
            const n = x.shape[0]!
            const xg = o.reshape(x, [n, -1, c / 2, 2]) // channel c = j·2 + g: group g = c mod 2
            const m = o.moments(xg, [1, 2], { keepDims: true })
            return [o.reshape(o.mul(o.sub(xg, m.mean), o.rsqrt(o.shift(m.variance, 1e-5))), x.shape), s]
          }) as never,
      } as never
    },
  }
  it('groupMoments: interleaved groups (channel c in group c mod G)', () => rejects(gnGroupMoments, interleaved, groupNorm2))
})

describe('round 2: BatchNorm eval output and untouched inputs', () => {
  /** Eval mode that falls back to the batch statistics when the batch has more than one sample. */
  const evalUsesBatch = bnWith(
    (o, inner) => (x, mode, ctx) => (mode === 'eval' && x.shape[0]! > 1 ? transition(o, (s) => [inner.apply(x, 'train')(s)[0], s]) : inner.apply(x, mode, ctx)),
  )
  /** A train step that also writes the new running mean into the input statistics' storage (cpu). */
  const writesStats = bnWith((o, inner) => (x, mode, ctx) => (s) => {
    const r = inner.apply(x, mode, ctx)(s)
    if (mode === 'train') writeInPlace(s.stats.mean, o.readSync(r[1].stats.mean))
    return r
  })
  it('evalOutput: eval mode with batch statistics when N > 1', () => rejects(bnEvalOutput, evalUsesBatch, polyakBatchNorm))
  it('inputsUntouched: running statistics written in place into the input state', () => rejects(bnInputsUntouched, writesStats, polyakBatchNorm))
})

describe('round 2: WeightAlign ε placement', () => {
  /** ε outside the square root: Ŵ = G·γ·(w − μ)/(√(N·σ²) + ε). */
  const epsilonOutside: WeightAlignSubject = {
    ...polyakWeightAlign,
    make: (o, layout) => {
      const inner = unsafeWeightAlign(o, { layout })
      return {
        ...inner,
        transform: ({ weight, gamma }) => {
          const n = weight.shape.slice(1).reduce((a, b) => a * b, 1)
          const m = o.moments(weight, [1, 2, 3], { keepDims: true })
          const g = o.reshape(gamma, [weight.shape[0]!, 1, 1, 1])
          return o.mul(o.scale(g, Math.SQRT2), o.div(o.sub(weight, m.mean), o.shift(o.sqrt(o.scale(m.variance, n)), 1e-5)))
        },
      }
    },
  }
  it('epsilonPlacement: ε outside the square root', () => rejects(waEpsilonPlacement, epsilonOutside, polyakWeightAlign))
})

describe('round 2: EMA and teacher updates leave their inputs untouched, on any paths', () => {
  /** An EMA step that writes its result into the average it was given (cpu). */
  const inPlaceEma: EmaStep = (o, avg, x, d) => {
    const out = o.axpby(d, avg, 1 - d, x)
    writeInPlace(avg, o.readSync(out))
    return out
  }
  /** A teacher update that writes the new teacher into the old teacher's storage (cpu), as an undonated in-place EMA would. */
  const inPlaceTeacher: TeacherUpdateSubject = (o, student, teacher, decay, policy) => {
    const next = unsafeTeacherUpdate(o, { decay, policy })(student)(teacher)[1]
    const pairs: Array<[Leaf, Leaf]> = []
    const walk = (a: unknown, b: unknown): void => {
      if (a !== null && typeof a === 'object' && 'shape' in a) pairs.push([a as Leaf, b as Leaf])
      else if (a !== null && typeof a === 'object') for (const k of Object.keys(a)) walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
    }
    walk(teacher, next)
    for (const [t, n] of pairs) if (t.dtype === 'float32') writeInPlace(t, (o as unknown as Ops<Leaf>).readSync(n))
    return next
  }
  /** A teacher update that skips every leaf whose path mentions 'norm' (a name-keyed shortcut). */
  const skipsNorm: TeacherUpdateSubject = (o, student, teacher, decay, policy) =>
    unsafeTeacherUpdate(o, { decay, policy: (slot, path) => (path.includes('norm') ? 'keep' : policy(slot, path)) })(student)(teacher)[1]
  it('ema.inputsUntouched: an EMA step that writes into its average', () => rejects(emaInputsUntouched, inPlaceEma, polyakEmaStep))
  it('teacher.inputsUntouched: a teacher update that writes into the teacher it was given', () =>
    rejects(teacherInputsUntouched, inPlaceTeacher, polyakTeacherUpdate))
  it("teacher.perLeafPolicy: an update that skips leaves whose path contains 'norm'", () => rejects(teacherPerLeafPolicy, skipsNorm, polyakTeacherUpdate))
})

describe('round 2: Momentum BN variance conventions', () => {
  /** Claims plain BN (normalise biased, store unbiased) but normalises with the unbiased variance. */
  const claimsPlainNormalizesUnbiased: MomentumBnSubject = { ...polyakMomentumBnPlain, make: (o, K) => unsafeMomentumBatchNorm(o, { totalSteps: K }) }
  /** Claims plain BN but stores the biased variance. */
  const claimsPlainStoresBiased: MomentumBnSubject = {
    ...polyakMomentumBnPlain,
    make: (o, K) => unsafeMomentumBatchNorm(o, { totalSteps: K, normalizeVariance: 'biased', storedVariance: 'biased' }),
  }
  it('alphaEndpoints: normalising with the unbiased variance where the biased one is claimed', () =>
    rejects(mbnAlphaEndpoints, claimsPlainNormalizesUnbiased, polyakMomentumBnPlain))
  it('storedVariance: storing the biased variance where the unbiased one is claimed', () =>
    rejects(mbnStoredVariance, claimsPlainStoresBiased, polyakMomentumBnPlain))
})

/** Helpers for the hand-written broken subjects. */
function zipWithPaths(a: unknown, b: unknown, f: (x: Leaf, y: Leaf) => Leaf): unknown {
  return (tree.zipWith as unknown as (a: unknown, b: unknown, f: (x: Leaf, y: Leaf) => Leaf) => unknown)(a, b, f)
}
function leavesOf(tree: unknown): Leaf[] {
  const out: Leaf[] = []
  const walk = (x: unknown): void => {
    if (x !== null && typeof x === 'object' && 'shape' in x) out.push(x as Leaf)
    else if (x !== null && typeof x === 'object') Object.values(x).forEach(walk)
  }
  walk(tree)
  return out
}
function mapLeaves(tree: unknown, f: (t: Leaf) => Leaf): unknown {
  if (tree !== null && typeof tree === 'object' && 'shape' in tree) return f(tree as Leaf)
  if (tree !== null && typeof tree === 'object') return Object.fromEntries(Object.entries(tree).map(([k, v]) => [k, mapLeaves(v, f)]))
  return tree
}

describe('the shape law rejects shape interpreters that mispredict', () => {
  const noBroadcast = { ...shapeOps, add: (a: never, b: never) => (shapeOps.clone(a), shapeOps.clone(b)) }
  const dropsKeepDims = { ...shapeOps, moments: (x: never, axes: never) => shapeOps.moments(x, axes) }
  const intMean = { ...shapeOps, mean: (x: never, axes: never, keep: never) => shapeOps.cast(shapeOps.mean(x, axes, keep), 'int32') }
  it('agree: an add that does not broadcast', () => rejects(shapesAgree, noBroadcast, shapeOps))
  it('agree: moments that ignore keepDims', () => rejects(shapesAgree, dropsKeepDims, shapeOps))
  it('agree: a mean with the wrong dtype', () => rejects(shapesAgree, intMean, shapeOps))
})
