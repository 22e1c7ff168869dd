/**
 * Momentum BatchNorm, the teacher normalizer of Momentum² Teacher (Li, Liu, Sun, arXiv 2101.07525).
 *
 * @module norm/momentumBatchNorm
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { type ConfigError, type Decoded, Epsilon, PositiveInt, decodeConfig, required, unsafe } from '../codecs/config.js'
import { InvalidArgumentError, showShape } from '../core/errors.js'
import type { Ops } from '../core/ops.js'
import type { Leaf } from '../core/tree.js'
import { transition } from '../core/transition.js'
import { type Schedule, momentumBnAlpha } from '../ema/schedules.js'
import { type BatchNormParams, type BatchNormStats, batchNormEval, initBatchNormState } from './batchNorm.js'
import type { NormalizerDefinition } from './definition.js'
import { type Normalizer, affineNormalize, channelAxes } from './normalizer.js'

/** Configuration of `momentumBatchNorm`. */
export interface MomentumBatchNormConfig {
  /** Total training steps `K` of the α schedule `α_k = (cos(πk/K) + 1)/2` (required). */
  readonly totalSteps: number
  /** Added to the variance before the square root, default `1e-5`. */
  readonly epsilon?: number
  /**
   * Reproduce the reference code's double Bessel correction (`torch.var` is already unbiased and
   * is multiplied by `n/(n−1)` again, in the normalisation and in the running update; docs/methods.md
   * P2). Default `false`: the variance is corrected once.
   */
  readonly referenceDoubleBessel?: boolean
  /**
   * The variance the batch is normalised with: `'biased'` (`σ²_v`, plain BatchNorm), `'unbiased'`
   * (`σ²_v·n/(n−1)`, the default) or `'unbiasedTwice'` (`σ²_v·(n/(n−1))²`, the reference code).
   */
  readonly normalizeVariance?: VarianceCorrection
  /** The variance the running statistics store, with the same choices; default `'unbiased'`. */
  readonly storedVariance?: VarianceCorrection
}

/**
 * How a batch variance is corrected: `biased` (×1), `unbiased` (×n/(n−1), Bessel), or
 * `unbiasedTwice` (×(n/(n−1))², the Momentum² Teacher reference code, which applies `n/(n−1)` to
 * `torch.var`'s already unbiased variance).
 */
export type VarianceCorrection = 'biased' | 'unbiased' | 'unbiasedTwice'

const VarianceCorrectionC = t.keyof({ biased: null, unbiased: null, unbiasedTwice: null }, 'VarianceCorrection')

/** The config codecs of `momentumBatchNorm` (the law catalogue draws configs from them). */
export const momentumBatchNormFields = {
  totalSteps: PositiveInt,
  epsilon: Epsilon,
  referenceDoubleBessel: t.boolean,
  normalizeVariance: t.union([VarianceCorrectionC, t.undefined]),
  storedVariance: t.union([VarianceCorrectionC, t.undefined]),
}
const fields = momentumBatchNormFields

/** The factor `correction` applies to a biased variance over `n` values. */
export const varianceFactor = (correction: VarianceCorrection, n: number): number =>
  correction === 'biased' ? 1 : correction === 'unbiased' ? n / (n - 1) : (n / (n - 1)) ** 2

/**
 * Momentum BatchNorm (Momentum² Teacher's `MomentumBatchNorm2d/1d`, zengarden/momentum2-teacher
 * `resnet_mbn.py`; docs/methods.md), channels last.
 *
 * **train** at step `k` (`context.step`, required) with `α = α_k = (cos(πk/K) + 1)/2` (PyTorch
 * convention: weight on the NEW statistics; 1 at the start, 0 at the end, clamped at `k ≥ K`). The
 * batch holds `V = context.views` views (default 1) of equal size stacked on axis 0; for each view
 * `v`, over its `n` values per channel, `μ_v` and the biased variance `σ²_v`, with the factors
 * `f_N` of `normalizeVariance` and `f_S` of `storedVariance` (`varianceFactor`: 1, `n/(n−1)` or
 * `(n/(n−1))²`; both `n/(n−1)` by default, both squared with `referenceDoubleBessel`):
 *
 *     y_v      = γ·(x_v − μ̃_v)/√(σ̃²_v + ε) + β,   μ̃_v = α·μ_v + (1 − α)·mean,  σ̃²_v = α·f_N·σ²_v + (1 − α)·variance
 *     mean     ← α·(1/V)Σ_v μ_v  + (1 − α)·mean
 *     variance ← α·f_S·(1/V)Σ_v σ²_v + (1 − α)·variance,   count ← count + 1
 *
 * The three readings found in the wild: plain BatchNorm (`normalizeVariance: 'biased'`,
 * `storedVariance: 'unbiased'`), polyak's default (both `'unbiased'`), and the reference code's
 * double correction (`referenceDoubleBessel: true`, i.e. both `'unbiasedTwice'`).
 *
 * The reference runs the two views of a step as two calls and updates on the second; passing both
 * views in one call (`views: 2`) computes exactly that update without relying on call parity
 * (docs/methods.md P10), and both views see the same running statistics (law M6).
 *
 * **eval**: eval-mode BatchNorm with the running statistics (α = 0), statistics unchanged. The
 * reference ignores eval mode (P9); its evaluation loads these statistics into a plain BatchNorm,
 * which is what eval mode here computes.
 *
 * The teacher's weights follow the student by `teacherUpdate` with `weightsOnly` and
 * `cosineToOne(0.99, K)`; its statistics are its own (not the student's, unlike EMAN).
 *
 * @example
 * const mbn = unsafeMomentumBatchNorm(ops, { totalSteps: 1000 })
 * const [y, s1] = mbn.apply(tf.concat([view1, view2]), 'train', { step, views: 2 })(s0)
 */
export const momentumBatchNorm = <T extends Leaf>(
  ops: Ops<T>,
  config: MomentumBatchNormConfig,
): E.Either<ConfigError, Normalizer<T, BatchNormParams<T>, BatchNormStats<T>> & { readonly alpha: Schedule }> =>
  E.map((c: MomentumBatchNormSettings) => makeMbn(ops, c))(decodeMomentumBatchNorm(config))

/** The decoded configuration: the horizon, ε and both variance corrections resolved. */
export interface MomentumBatchNormSettings {
  readonly totalSteps: number
  readonly epsilon: number
  readonly normalizeVariance: VarianceCorrection
  readonly storedVariance: VarianceCorrection
}

const decodeMomentumBatchNorm = (config: unknown): E.Either<ConfigError, MomentumBatchNormSettings> =>
  E.map((c: Decoded<typeof fields>): MomentumBatchNormSettings => {
    const preset: VarianceCorrection = c.referenceDoubleBessel ? 'unbiasedTwice' : 'unbiased'
    return { totalSteps: c.totalSteps, epsilon: c.epsilon, normalizeVariance: c.normalizeVariance ?? preset, storedVariance: c.storedVariance ?? preset }
  })(
    decodeConfig(
      'momentumBatchNorm config',
      fields,
      {
        totalSteps: required<PositiveInt>(),
        epsilon: 1e-5 as Epsilon,
        referenceDoubleBessel: false,
        normalizeVariance: undefined,
        storedVariance: undefined,
      },
      config,
      (c) =>
        c.referenceDoubleBessel && (c.normalizeVariance !== undefined || c.storedVariance !== undefined)
          ? [
              {
                field: 'referenceDoubleBessel',
                message: 'is shorthand for normalizeVariance and storedVariance both unbiasedTwice; give either it or those two',
              },
            ]
          : [],
    ),
  )

/** `momentumBatchNorm` in the registry's terms; a model fills `totalSteps` with the run's horizon. */
export const momentumBatchNormDefinition: NormalizerDefinition<MomentumBatchNormSettings> = {
  kind: 'activation',
  name: 'momentumBatchNorm',
  summary: 'Momentum BatchNorm (Momentum² Teacher): batch statistics blended with running ones by a cosine α(step)',
  capabilities: { batchDependent: true, hasStats: true },
  fields: momentumBatchNormFields,
  decode: decodeMomentumBatchNorm,
  build: (ops, settings) => makeMbn(ops, settings),
  modelDefaults: ({ totalSteps }) => (totalSteps === undefined ? {} : { totalSteps }),
}

/** `momentumBatchNorm` that throws the `ConfigError` instead of returning it. */
export const unsafeMomentumBatchNorm = <T extends Leaf>(ops: Ops<T>, config: MomentumBatchNormConfig) => unsafe(momentumBatchNorm(ops, config))

const makeMbn = <T extends Leaf>(
  ops: Ops<T>,
  c: MomentumBatchNormSettings,
): Normalizer<T, BatchNormParams<T>, BatchNormStats<T>> & { readonly alpha: Schedule } => {
  const alpha = momentumBnAlpha(c.totalSteps)
  return {
    name: 'momentumBatchNorm',
    alpha,
    init: (channels) => ops.tidy(() => initBatchNormState(ops, 'momentumBatchNorm', channels)),
    apply: (x, mode, context = {}) =>
      transition(ops, ({ params, stats }) => {
        if (mode === 'eval') return [batchNormEval(ops, 'momentumBatchNorm', x, params, stats, c.epsilon), { params, stats }]
        const channels = params.gamma.shape[0]!
        channelAxes('momentumBatchNorm', x, channels)
        const step = context.step
        if (step === undefined || !Number.isInteger(step) || step < 0) {
          throw new InvalidArgumentError(
            'momentumBatchNorm: context.step',
            `train mode needs the 0-based training step for the α schedule, e.g. apply(x, 'train', { step }); got ${String(step)}`,
          )
        }
        const views = context.views ?? 1
        const batch = x.shape[0]!
        if (!Number.isInteger(views) || views < 1 || batch % views !== 0) {
          throw new InvalidArgumentError(
            'momentumBatchNorm: context.views',
            `the batch of ${batch} (x ${showShape(x.shape)}) must split into ${String(views)} equal views along axis 0`,
          )
        }
        const n = x.shape.reduce((a, d) => a * d, 1) / channels / views
        if (n < 2) {
          throw new InvalidArgumentError(
            'momentumBatchNorm: x',
            `expected more than 1 value per channel per view when training, got ${showShape(x.shape)} in ${views} view(s)`,
          )
        }
        const a = alpha(step)
        const fN = varianceFactor(c.normalizeVariance, n)
        const fS = varianceFactor(c.storedVariance, n)
        const xv = ops.reshape(x, [views, n, channels])
        const m = ops.moments(xv, 1, { keepDims: true }) // [V, 1, C], biased variance
        const meanUse = ops.axpby(a, m.mean, 1 - a, stats.mean)
        const varUse = ops.axpby(a * fN, m.variance, 1 - a, stats.variance)
        const y = ops.reshape(affineNormalize(ops, xv, meanUse, varUse, params.gamma, params.beta, c.epsilon), x.shape)
        const next = {
          mean: ops.axpby(a, ops.mean(m.mean, [0, 1]), 1 - a, stats.mean),
          variance: ops.axpby(a * fS, ops.mean(m.variance, [0, 1]), 1 - a, stats.variance),
          count: ops.add(stats.count, ops.scalar(1, 'int32')),
        }
        return [y, { params, stats: next }]
      }),
  }
}
