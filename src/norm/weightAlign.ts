/**
 * WeightAlign (Shi, Li, Liu, van Gemert, ICPR 2020, arXiv 2010.07160).
 *
 * @module norm/weightAlign
 */
import * as E from 'fp-ts/lib/Either.js'
import { type ConfigError, Epsilon, PositiveFinite, decodeConfig, unsafe } from '../codecs/config.js'
import { ShapeMismatchError, showShape } from '../core/errors.js'
import type { Ops } from '../core/ops.js'
import type { Leaf } from '../core/tree.js'
import { transition } from '../core/transition.js'
import type { NoStats } from './groupNorm.js'
import type { WeightNormalizerDefinition } from './definition.js'
import { type WeightLayout, WeightLayoutC, filterAxes, perFilterShape } from './weightLayout.js'
import type { WeightNormalizer } from './weightStandardization.js'

/** Parameters of a WeightAlign-ed weight: the raw weight and the per-filter scale `γ` (`[O]`, init 1). */
export interface WeightAlignParams<T> {
  readonly weight: T
  readonly gamma: T
}

/** Configuration of `weightAlign`. */
export interface WeightAlignConfig {
  /**
   * Activation gain `G`, default `√2` (He/Kaiming, for ReLU). UNCONFIRMED against the paper body:
   * `1` leaves the gain to `γ`; `√(2/(1 − 1/π)) ≈ 1.7129` is exact for centred weights under ReLU
   * (NF-Net's Scaled-WS constant). docs/methods.md
   */
  readonly gain?: number
  /** ε inside the square root, default `1e-5` (placement UNCONFIRMED; PyTorch/timm style). Must be > 0. */
  readonly epsilon?: number
  /** Weight layout, default `'HWIO'` (tfjs conv2d). */
  readonly layout?: WeightLayout
}

/** The config codecs (the law catalogue draws configs from them). */
export const weightAlignFields = { gain: PositiveFinite, epsilon: Epsilon, layout: WeightLayoutC }
const fields = weightAlignFields

/**
 * WeightAlign: each output filter `o` (fan-in `N`, per `layout`) is centred and scaled by its
 * "scaled standard deviation":
 *
 *     μ_o = (1/N)Σ_j w_oj,   σ²_o = (1/N)Σ_j (w_oj − μ_o)²
 *     Ŵ_o = γ_o·G·(w_o − μ_o)/√(N·(σ²_o + ε))
 *
 * so every filter has zero mean and norm `G·γ_o·σ_o/√(σ²_o + ε)` (≈ `G·γ_o`): activations are
 * normalised without any sample statistics, independent of the batch size, and WeightAlign combines
 * with any activation normaliser (BN, GN, LN, IN) or none. The statistics are recomputed from the
 * raw weight at every use (a reparameterisation, differentiated through, like weight
 * standardisation); the optimizer updates the raw weight and `γ`.
 *
 * ε must be > 0: with ε = 0 a constant filter would give 0/0 (docs/methods.md W10); with ε > 0 it gives
 * `Ŵ_o ≈ 0`. The gain, ε's value and placement, and `γ` being per filter are choices, documented
 * as such (the paper body could not be read; see `WeightAlignConfig`).
 *
 * Relation (ε = 0): `Ŵ = G·γ·StdConv_timm(W)/√N = G·γ·WS_unbiased(W)/√(N − 1)`.
 *
 * @example
 * const wa = unsafeWeightAlign(ops, { layout: 'HWIO' })
 * const s = wa.init(kernel)                         // { params: { weight, gamma: ones[O] }, stats: {} }
 * const y = ops.conv2d(x, wa.transform(s.params), 1, 'same')
 */
export const weightAlign = <T extends Leaf>(ops: Ops<T>, config: WeightAlignConfig = {}): E.Either<ConfigError, WeightNormalizer<T, WeightAlignParams<T>>> =>
  E.map((c: WeightAlignSettings) => makeWa(ops, c))(decodeWeightAlign(config))

/** The decoded configuration. */
export interface WeightAlignSettings {
  readonly gain: number
  readonly epsilon: number
  readonly layout: WeightLayout
}

const decodeWeightAlign = (config: unknown): E.Either<ConfigError, WeightAlignSettings> =>
  decodeConfig('weightAlign config', fields, { gain: Math.SQRT2 as PositiveFinite, epsilon: 1e-5 as Epsilon, layout: 'HWIO' }, config)

/** `weightAlign` in the registry's terms; a model fills the layout it stores its weights in. */
export const weightAlignDefinition: WeightNormalizerDefinition<WeightAlignSettings> = {
  kind: 'weight',
  name: 'weightAlign',
  summary: 'WeightAlign: each filter centred and scaled by √N·σ, times a gain G and a per-filter γ; batch-independent',
  fields: weightAlignFields,
  decode: decodeWeightAlign,
  build: (ops, settings) => makeWa(ops, settings),
}

/** `weightAlign` that throws the `ConfigError` instead of returning it. */
export const unsafeWeightAlign = <T extends Leaf>(ops: Ops<T>, config: WeightAlignConfig = {}) => unsafe(weightAlign(ops, config))

const makeWa = <T extends Leaf>(ops: Ops<T>, c: WeightAlignSettings): WeightNormalizer<T, WeightAlignParams<T>> => {
  const transform = (params: WeightAlignParams<T>): T =>
    ops.tidy(() => {
      const w = params.weight
      const { outAxis, fanInAxes, fanIn, filters } = filterAxes('weightAlign', c.layout, w.shape)
      if (params.gamma.shape.length !== 1 || params.gamma.shape[0] !== filters) {
        throw new ShapeMismatchError(
          'weightAlign: gamma',
          `expected [${filters}] (one per output filter of ${showShape(w.shape)}), got ${showShape(params.gamma.shape)}`,
        )
      }
      // G·γ_o / √(N·(σ²_o + ε)) = (G/√N)·γ_o·rsqrt(σ²_o + ε): a standardisation per filter scaled by (G/√N)·γ_o
      const gamma = ops.reshape(params.gamma, perFilterShape(w.shape.length, outAxis, filters))
      return ops.standardize(w, fanInAxes, ops.scale(gamma, c.gain / Math.sqrt(fanIn)), c.epsilon)
    })
  return {
    name: 'weightAlign',
    init: (weight) => {
      const { filters } = filterAxes('weightAlign', c.layout, weight.shape)
      return ops.tidy(() => ({ params: { weight: ops.clone(weight), gamma: ops.ones([filters]) }, stats: {} as NoStats }))
    },
    transform,
    apply: () => transition(ops, (s) => [transform(s.params), s]),
  }
}
