/**
 * Weight standardisation (Qiao et al., arXiv 1903.10520) in the conventions of its reference code
 * and of timm's `StdConv2d`.
 *
 * @module norm/weightStandardization
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { type ConfigError, Epsilon, VarianceEstimatorC, decodeConfig, unsafe } from '../codecs/config.js'
import type { Ops, VarianceEstimator } from '../core/ops.js'
import type { Leaf } from '../core/tree.js'
import { type Slots, type Transition, transition } from '../core/transition.js'
import type { NoStats } from './groupNorm.js'
import type { WeightNormalizerDefinition } from './definition.js'
import { type WeightLayout, WeightLayoutC, filterAxes } from './weightLayout.js'

/** Where ε enters: `'variance'`: `(w − μ)/√(σ² + ε)` (timm); `'std'`: `(w − μ)/(σ + ε)` (WS reference code). */
export type EpsilonPlacement = 'variance' | 'std'

/** Configuration of `weightStandardization`. */
export interface WeightStandardizationConfig {
  /** Variance estimator over each filter's fan-in, default `'biased'` (timm). */
  readonly estimator?: VarianceEstimator
  /** ε, default `1e-6` (timm `StdConv2d`). */
  readonly epsilon?: number
  /** Where ε enters, default `'variance'` (timm). */
  readonly epsilonPlacement?: EpsilonPlacement
  /** Weight layout, default `'HWIO'` (tfjs conv2d). */
  readonly layout?: WeightLayout
}

/** timm `StdConv2d` (BiT): biased variance, `ε = 1e-6` inside the square root. The default. */
export const WS_TIMM: WeightStandardizationConfig = { estimator: 'biased', epsilon: 1e-6, epsilonPlacement: 'variance' }
/** The PyTorch snippet of the WS reference (joe-siyuan-qiao/WeightStandardization): unbiased std, `+ 1e-5` outside. */
export const WS_REFERENCE_PYTORCH: WeightStandardizationConfig = { estimator: 'unbiased', epsilon: 1e-5, epsilonPlacement: 'std' }
/** The TensorFlow snippet of the WS reference: biased std, `+ 1e-5` outside. */
export const WS_REFERENCE_TF: WeightStandardizationConfig = { estimator: 'biased', epsilon: 1e-5, epsilonPlacement: 'std' }

/** Parameters of a standardised weight: the raw weight the optimizer updates. */
export interface StandardizedWeightParams<T> {
  readonly weight: T
}

/** A weight normalizer: a reparameterisation of a raw weight, recomputed from it at every use. */
export interface WeightNormalizer<T extends Leaf, P extends { readonly weight: T }> {
  readonly name: string
  /** The parameters for a raw weight (the weight is borrowed and cloned into the state). */
  readonly init: (weight: T) => Slots<P, NoStats>
  /** The normalised weight `Ŵ` as a pure (differentiable) function of the parameters. */
  readonly transform: (params: P) => T
  /** `transform` as a transition: reports `Ŵ`, leaves the state unchanged. */
  readonly apply: () => Transition<P, NoStats, T>
}

/** The config codecs of `weightStandardization`. */
export const weightStandardizationFields = {
  estimator: VarianceEstimatorC,
  epsilon: Epsilon,
  epsilonPlacement: t.keyof({ variance: null, std: null }),
  layout: WeightLayoutC,
}
const fields = weightStandardizationFields

/**
 * Weight standardisation: for each output filter `o` with fan-in `N` (all axes but the output's,
 * per `layout`),
 *
 *     Ŵ_o = (w_o − μ_o)/√(σ²_o + ε)      (epsilonPlacement 'variance')
 *     Ŵ_o = (w_o − μ_o)/(σ_o + ε)        (epsilonPlacement 'std')
 *
 * with `σ²` biased `(1/N)` or unbiased `(1/(N−1))`. No learnable gain: the activation normaliser
 * that follows supplies one. Presets: `WS_TIMM` (default), `WS_REFERENCE_PYTORCH`, `WS_REFERENCE_TF`.
 *
 * @example
 * const ws = unsafeWeightStandardization(ops, { ...WS_TIMM, layout: 'HWIO' })
 * const y = ops.conv2d(x, ws.transform({ weight: kernel }), 1, 'same')
 */
export const weightStandardization = <T extends Leaf>(
  ops: Ops<T>,
  config: WeightStandardizationConfig = {},
): E.Either<ConfigError, WeightNormalizer<T, StandardizedWeightParams<T>>> =>
  E.map((c: WeightStandardizationSettings) => makeWs(ops, c))(decodeWeightStandardization(config))

/** The decoded configuration. */
export interface WeightStandardizationSettings {
  readonly estimator: VarianceEstimator
  readonly epsilon: number
  readonly epsilonPlacement: EpsilonPlacement
  readonly layout: WeightLayout
}

const decodeWeightStandardization = (config: unknown): E.Either<ConfigError, WeightStandardizationSettings> =>
  decodeConfig('weightStandardization config', fields, { estimator: 'biased', epsilon: 1e-6 as Epsilon, epsilonPlacement: 'variance', layout: 'HWIO' }, config)

/** `weightStandardization` in the registry's terms; a model fills the layout it stores its weights in. */
export const weightStandardizationDefinition: WeightNormalizerDefinition<WeightStandardizationSettings> = {
  kind: 'weight',
  name: 'weightStandardization',
  summary: 'Weight standardisation: each filter centred and divided by its std (timm StdConv2d by default); batch-independent',
  fields: weightStandardizationFields,
  decode: decodeWeightStandardization,
  build: (ops, settings) => makeWs(ops, settings),
}

/** `weightStandardization` that throws the `ConfigError` instead of returning it. */
export const unsafeWeightStandardization = <T extends Leaf>(ops: Ops<T>, config: WeightStandardizationConfig = {}) => unsafe(weightStandardization(ops, config))

const makeWs = <T extends Leaf>(ops: Ops<T>, c: WeightStandardizationSettings): WeightNormalizer<T, StandardizedWeightParams<T>> => {
  const transform = (params: StandardizedWeightParams<T>): T =>
    ops.tidy(() => {
      const w = params.weight
      const { fanInAxes } = filterAxes('weightStandardization', c.layout, w.shape)
      const m = ops.moments(w, fanInAxes, { keepDims: true, estimator: c.estimator })
      const inv =
        c.epsilonPlacement === 'variance' ? ops.rsqrt(ops.shift(m.variance, c.epsilon)) : ops.div(ops.ones([]), ops.shift(ops.sqrt(m.variance), c.epsilon))
      return ops.normalize(w, m.mean, inv, ops.zeros(inv.shape))
    })
  return {
    name: 'weightStandardization',
    init: (weight) => {
      filterAxes('weightStandardization', c.layout, weight.shape)
      return { params: { weight: ops.clone(weight) }, stats: {} as NoStats }
    },
    transform,
    apply: () => transition(ops, (s) => [transform(s.params), s]),
  }
}
