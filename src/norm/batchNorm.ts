/**
 * Batch normalisation (Ioffe & Szegedy 2015) with PyTorch's exact conventions by default.
 *
 * @module norm/batchNorm
 */
import * as E from 'fp-ts/lib/Either.js'
import { type ConfigError, Decay, Epsilon, VarianceEstimatorC, decodeConfig, unsafe } from '../codecs/config.js'
import { InvalidArgumentError, showShape } from '../core/errors.js'
import type { Ops, VarianceEstimator } from '../core/ops.js'
import type { Leaf } from '../core/tree.js'
import { transition } from '../core/transition.js'
import { emaLeaf } from '../ema/ema.js'
import type { NormalizerDefinition } from './definition.js'
import { type AffineParams, type Normalizer, affineNormalize, channelAxes, checkChannels } from './normalizer.js'

/** BatchNorm statistics: running mean and variance per channel, and the number of training batches seen. */
export interface BatchNormStats<T> {
  /** Running mean, `[C]`, initialised to 0. */
  readonly mean: T
  /** Running variance, `[C]`, initialised to 1 (biased or unbiased per `runningVariance`). */
  readonly variance: T
  /** Training batches seen, an int32 scalar (PyTorch `num_batches_tracked`); copied, never averaged, by teacher updates. */
  readonly count: T
}

/** BatchNorm parameters: `γ` (init 1) and `β` (init 0), `[C]`. */
export type BatchNormParams<T> = AffineParams<T>

/** Configuration of `batchNorm`. */
export interface BatchNormConfig {
  /** Running-statistics decay (weight on the OLD value), default `0.9` = `fromTorchMomentum(0.1)`. */
  readonly decay?: number
  /** Added to the variance before the square root, default `1e-5` (PyTorch, Flax; tfjs defaults to 1e-3). */
  readonly epsilon?: number
  /** Estimator stored in the running variance: `'unbiased'` (PyTorch, default) or `'biased'` (Flax, Keras). */
  readonly runningVariance?: VarianceEstimator
}

/** The config codecs (the law catalogue draws configs from them). */
export const batchNormFields = { decay: Decay, epsilon: Epsilon, runningVariance: VarianceEstimatorC }
const fields = batchNormFields
const defaults = { decay: 0.9 as Decay, epsilon: 1e-5 as Epsilon, runningVariance: 'unbiased' as const }

/** The decoded, validated configuration. */
export interface BatchNormSettings {
  readonly decay: number
  readonly epsilon: number
  readonly runningVariance: VarianceEstimator
}

/** Decodes a BatchNorm-family config (shared by `batchNorm` and `eman`). */
export const decodeBatchNormConfig = (subject: string, config: unknown): E.Either<ConfigError, BatchNormSettings> =>
  decodeConfig(subject, fields, defaults, config)

/** The initial state of a BatchNorm-family layer: γ = 1, β = 0, mean = 0, variance = 1, count = 0. */
export const initBatchNormState = <T extends Leaf>(ops: Ops<T>, op: string, channels: number) => {
  checkChannels(op, channels)
  return {
    params: { gamma: ops.ones([channels]), beta: ops.zeros([channels]) } as BatchNormParams<T>,
    stats: { mean: ops.zeros([channels]), variance: ops.ones([channels]), count: ops.scalar(0, 'int32') } as BatchNormStats<T>,
  }
}

/** Eval-mode BatchNorm: `y = γ·(x − mean)/√(variance + ε) + β` with the running statistics. */
export const batchNormEval = <T extends Leaf>(ops: Ops<T>, op: string, x: T, params: BatchNormParams<T>, stats: BatchNormStats<T>, epsilon: number): T => {
  channelAxes(op, x, params.gamma.shape[0]!)
  return affineNormalize(ops, x, stats.mean, stats.variance, params.gamma, params.beta, epsilon)
}

/**
 * BatchNorm (Ioffe & Szegedy, ICML 2015), channels last.
 *
 * **train**: per channel over the `M = N·H·W` values, `μ_B = (1/M)Σx`, `σ²_B = (1/M)Σ(x − μ_B)²`
 * (biased, what it normalises with), then
 *
 *     y        = γ·(x − μ_B)/√(σ²_B + ε) + β
 *     mean     ← d·mean + (1 − d)·μ_B
 *     variance ← d·variance + (1 − d)·σ²_B·M/(M − 1)      (runningVariance 'unbiased'; ·1 for 'biased')
 *     count    ← count + 1
 *
 * `M = 1` is rejected ("expected more than 1 value per channel when training"), as in PyTorch.
 *
 * **eval**: `y = γ·(x − mean)/√(variance + ε) + β`; the statistics are returned unchanged.
 *
 * | default | polyak | PyTorch `BatchNorm2d` | Flax `BatchNorm` | tfjs / Keras |
 * | --- | --- | --- | --- | --- |
 * | running-stat weight | `decay = 0.9` (old) | `momentum = 0.1` (new) | `momentum = 0.99` (old) | `momentum = 0.99` (old) |
 * | ε | 1e-5 | 1e-5 | 1e-5 | 1e-3 |
 * | running variance | unbiased | unbiased | biased | biased |
 * | init | mean 0, var 1 | mean 0, var 1 | mean 0, var 1 | mean 0, var 1 |
 *
 * @example
 * const bn = unsafeBatchNorm(ops)                     // PyTorch defaults
 * const s0 = bn.init(64)
 * const [y, s1] = bn.apply(x, 'train')(s0)            // s1.stats: updated running statistics
 */
export const batchNorm = <T extends Leaf>(
  ops: Ops<T>,
  config: BatchNormConfig = {},
): E.Either<ConfigError, Normalizer<T, BatchNormParams<T>, BatchNormStats<T>>> =>
  E.map((c: BatchNormSettings) => makeBatchNorm(ops, c))(decodeBatchNormConfig('batchNorm config', config))

/** `batchNorm` in the registry's terms: decode (io-ts), then build. */
export const batchNormDefinition: NormalizerDefinition<BatchNormSettings> = {
  kind: 'activation',
  name: 'batchNorm',
  summary: 'BatchNorm, PyTorch conventions (train: batch statistics, running averages updated; eval: running statistics)',
  capabilities: { batchDependent: true, hasStats: true },
  fields: batchNormFields,
  decode: (config) => decodeBatchNormConfig('batchNorm config', config),
  build: (ops, settings) => makeBatchNorm(ops, settings),
}

/** `batchNorm` that throws the `ConfigError` instead of returning it. */
export const unsafeBatchNorm = <T extends Leaf>(ops: Ops<T>, config: BatchNormConfig = {}) => unsafe(batchNorm(ops, config))

const makeBatchNorm = <T extends Leaf>(ops: Ops<T>, c: BatchNormSettings): Normalizer<T, BatchNormParams<T>, BatchNormStats<T>> => ({
  name: 'batchNorm',
  init: (channels) => ops.tidy(() => initBatchNormState(ops, 'batchNorm', channels)),
  apply: (x, mode) =>
    transition(ops, ({ params, stats }) => {
      if (mode === 'eval') return [batchNormEval(ops, 'batchNorm', x, params, stats, c.epsilon), { params, stats }]
      const axes = channelAxes('batchNorm', x, params.gamma.shape[0]!)
      const m = axes.reduce((n, a) => n * x.shape[a]!, 1)
      if (m < 2) {
        throw new InvalidArgumentError(
          'batchNorm: x',
          `expected more than 1 value per channel when training, got input shape ${showShape(x.shape)}; ` +
            `use a larger batch, mode 'eval', or a batch-independent normalizer (groupNorm, layerNorm)`,
        )
      }
      const batch = ops.moments(x, axes)
      const y = affineNormalize(ops, x, batch.mean, batch.variance, params.gamma, params.beta, c.epsilon)
      const bessel = c.runningVariance === 'unbiased' ? m / (m - 1) : 1
      const next = {
        mean: emaLeaf(ops, stats.mean, batch.mean, c.decay),
        // d·var + (1 − d)·(M/(M−1))·σ²_B, the Bessel factor folded into the float64 weight
        variance: c.decay === 1 ? ops.clone(stats.variance) : ops.axpby(c.decay, stats.variance, (1 - c.decay) * bessel, batch.variance),
        count: ops.add(stats.count, ops.scalar(1, 'int32')),
      }
      return [y, { params, stats: next }]
    }),
})
