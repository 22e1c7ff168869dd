/**
 * Small convolutional networks whose normalizer is a slot: any activation normalizer of the registry
 * (`norm/registry`: batchNorm, eman, momentumBatchNorm, groupNorm, layerNorm, instanceNorm, or one
 * registered by the user) or `'none'`, each optionally with a weight normalizer of the registry
 * (weightAlign, weightStandardization) on the convolution weights. A model is `{init, apply}` over trees of parameters and statistics, like
 * every normalizer; gradients come from `tf.valueAndGrads` over these pure functions (no
 * `tf.Variable`, no tfjs-layers).
 *
 * Architecture (channels last): for each stage, `conv3x3 → norm → relu → avgpool 2×2`; then global
 * average pooling gives the features `h`; optional heads: a linear classifier, a projector MLP
 * `dense → norm → relu → dense` and a predictor MLP of the same shape (BYOL).
 *
 * @module nn/model
 */
import * as tf from '@tensorflow/tfjs-core'
import { unsafe } from '../codecs/config.js'
import { InvalidArgumentError } from '../core/errors.js'
import { cloneTree } from '../core/memory.js'
import { tfOps } from '../core/tfOps.js'
import type { TreeRecord } from '../core/tree.js'
import { avgPool2x2 } from '../kernels/activations.js'
import type { ApplyContext, Mode, Normalizer } from '../norm/normalizer.js'
import { type NormSpec, activationNormalizer, specName, weightNormalizer } from '../norm/registry.js'
import { type Rng, derive, normal } from './random.js'

/** The activation normalizer of a layer: a registered name or `{ name, config }` (`norm/registry`), or `'none'`. */
export type { NormSpec }

/** An MLP head `dense → norm → relu → dense`. */
export interface HeadConfig {
  readonly hidden: number
  readonly out: number
  readonly norm: NormSpec
}

/** Configuration of a `convNet`. */
export interface ConvNetConfig {
  /** Input `[H, W, C]`. */
  readonly inputShape: readonly [number, number, number]
  /** Channels of each conv stage. */
  readonly widths: readonly number[]
  /** The activation normalizer after each convolution (GroupNorm without a group count gets `defaultGroups(channels)`). */
  readonly norm: NormSpec
  /** The weight normalizer of the convolutions, or `'none'` (the layout is the model's, HWIO). */
  readonly weightNorm: NormSpec
  /** The run's planned number of steps: the horizon of normalizers that need one (Momentum BN's α schedule). */
  readonly totalSteps?: number
  /** Number of classes of a linear classifier head (none when absent). */
  readonly classes?: number
  readonly projector?: HeadConfig
  readonly predictor?: HeadConfig
}

/** A leaf record of a layer. */
export type Layer = Record<string, tf.Tensor>

/** What a forward pass returns: the features and each head's output, plus the new statistics. */
export interface ForwardOutput {
  readonly features: tf.Tensor2D
  readonly logits?: tf.Tensor2D
  readonly projection?: tf.Tensor2D
  readonly prediction?: tf.Tensor2D
  readonly stats: TreeRecord<tf.Tensor>
}

/** Context of a forward pass: the normalizers' context, which heads to run, and optionally features to start from. */
export interface ForwardContext extends ApplyContext {
  /** Heads to run (default: all the model has). */
  readonly heads?: readonly ('classifier' | 'projector' | 'predictor')[]
  /** Skip the backbone and run the heads on these features (projector-only momentum); `x` is ignored. */
  readonly features?: tf.Tensor2D
}

/** A model: initial state from a seed, and a pure forward pass. */
export interface Model {
  readonly config: ConvNetConfig
  readonly init: (seed: number) => { params: TreeRecord<tf.Tensor>; stats: TreeRecord<tf.Tensor> }
  /**
   * Forward pass of `x` (`[N, H, W, C]`); heads run when present. Not scoped: call it inside
   * `tf.tidy` or a gradient function. The returned statistics are new tensors.
   */
  readonly forward: (params: TreeRecord<tf.Tensor>, stats: TreeRecord<tf.Tensor>, x: tf.Tensor, mode: Mode, context?: ForwardContext) => ForwardOutput
}

type LayerNormalizer = Normalizer<tf.Tensor, Layer, Layer>

const normalizerOf = (spec: NormSpec, channels: number, config: ConvNetConfig): LayerNormalizer | undefined =>
  unsafe(activationNormalizer(tfOps, spec, { channels, ...(config.totalSteps === undefined ? {} : { totalSteps: config.totalSteps }) })) as
    | LayerNormalizer
    | undefined

const heNormal = (r: Rng, shape: number[], fanIn: number): tf.Tensor => {
  const n = shape.reduce((a, b) => a * b, 1)
  const std = Math.sqrt(2 / fanIn)
  return tf.tensor(Float32Array.from({ length: n }, () => normal(r) * std), shape)
}

const dense = (x: tf.Tensor, p: Layer): tf.Tensor2D => tf.add(tf.matMul(x as tf.Tensor2D, p.weight as tf.Tensor2D), p.bias!) as tf.Tensor2D

/**
 * A small conv net with a normalizer slot (see the module doc).
 *
 * @example
 * const model = convNet({ inputShape: [14, 14, 1], widths: [16, 32], norm: 'batchNorm', weightNorm: 'none', classes: 10 })
 * const { params, stats } = model.init(0)
 * const out = tf.tidy(() => model.forward(params, stats, x, 'train'))
 */
export const convNet = (config: ConvNetConfig): Model => {
  if (config.widths.length === 0) throw new InvalidArgumentError('convNet: widths', 'needs at least one conv stage')
  const weightNorm = unsafe(weightNormalizer(tfOps, config.weightNorm, { layout: 'HWIO' }))
  const stageNorms = config.widths.map((c) => normalizerOf(config.norm, c, config))
  const headNorm = (h: HeadConfig | undefined) => (h === undefined ? undefined : normalizerOf(h.norm, h.hidden, config))
  const projectorNorm = headNorm(config.projector)
  const predictorNorm = headNorm(config.predictor)
  const features = config.widths[config.widths.length - 1]!

  const initHead = (r: Rng, inDim: number, h: HeadConfig, norm: LayerNormalizer | undefined) => {
    const ns = norm?.init(h.hidden)
    return {
      params: {
        fc1: { weight: heNormal(r, [inDim, h.hidden], inDim), bias: tf.zeros([h.hidden]) },
        ...(ns === undefined ? {} : { norm: ns.params }),
        fc2: { weight: heNormal(r, [h.hidden, h.out], h.hidden), bias: tf.zeros([h.out]) },
      },
      stats: ns === undefined ? {} : { norm: ns.stats },
    }
  }

  const init = (seed: number) => {
    const r = derive(seed, 'convNet.init')
    const params: TreeRecord<tf.Tensor> = {}
    const stats: TreeRecord<tf.Tensor> = {}
    let inC = config.inputShape[2]
    config.widths.forEach((c, i) => {
      const raw = heNormal(r, [3, 3, inC, c], 9 * inC)
      const conv: Layer = { weight: raw }
      if (specName(config.norm) === 'none') conv.bias = tf.zeros([c])
      if (weightNorm !== undefined) {
        // the weight normalizer's own parameters (WeightAlign's γ) join the raw weight
        const { weight, ...extra } = weightNorm.init(raw).params as Layer
        weight!.dispose()
        Object.assign(conv, extra)
      }
      const ns = stageNorms[i]?.init(c)
      params[`stage${i}`] = { conv, ...(ns === undefined ? {} : { norm: ns.params }) }
      stats[`stage${i}`] = ns === undefined ? {} : { norm: ns.stats }
      inC = c
    })
    if (config.classes !== undefined) params.classifier = { weight: heNormal(r, [features, config.classes], features), bias: tf.zeros([config.classes]) }
    if (config.projector !== undefined) {
      const h = initHead(r, features, config.projector, projectorNorm)
      params.projector = h.params
      stats.projector = h.stats
    }
    if (config.predictor !== undefined) {
      const inDim = config.projector?.out ?? features
      const h = initHead(r, inDim, config.predictor, predictorNorm)
      params.predictor = h.params
      stats.predictor = h.stats
    }
    return { params, stats }
  }

  const applyNorm = (
    norm: LayerNormalizer | undefined,
    p: TreeRecord<tf.Tensor> | undefined,
    s: TreeRecord<tf.Tensor> | undefined,
    x: tf.Tensor,
    mode: Mode,
    context: ApplyContext,
  ): [tf.Tensor, Layer | undefined] => {
    if (norm === undefined) return [x, undefined]
    const [y, next] = norm.apply(x, mode, context)({ params: p as Layer, stats: (s ?? {}) as Layer })
    return [y, next.stats]
  }

  const head = (
    norm: LayerNormalizer | undefined,
    p: TreeRecord<tf.Tensor>,
    s: TreeRecord<tf.Tensor>,
    x: tf.Tensor,
    mode: Mode,
    context: ApplyContext,
  ): [tf.Tensor2D, TreeRecord<tf.Tensor>] => {
    const z = dense(x, p.fc1 as Layer)
    const [zn, ns] = applyNorm(norm, p.norm as TreeRecord<tf.Tensor> | undefined, s.norm as TreeRecord<tf.Tensor> | undefined, z, mode, context)
    return [dense(tf.relu(zn), p.fc2 as Layer), ns === undefined ? {} : { norm: ns }]
  }

  const forward: Model['forward'] = (params, stats, x, mode, context = {}) => {
    let h = x
    const nextStats: TreeRecord<tf.Tensor> = {}
    config.widths.forEach((_, i) => {
      if (context.features !== undefined) {
        nextStats[`stage${i}`] = cloneRecord((stats[`stage${i}`] ?? {}) as TreeRecord<tf.Tensor>)
        return
      }
      const p = params[`stage${i}`] as TreeRecord<tf.Tensor>
      const conv = p.conv as Layer
      const w = weightNorm === undefined ? conv.weight! : weightNorm.transform(conv as never)
      let y: tf.Tensor = tf.conv2d(h as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')
      if (conv.bias !== undefined) y = tf.add(y, conv.bias)
      const [yn, ns] = applyNorm(stageNorms[i], p.norm as TreeRecord<tf.Tensor> | undefined, (stats[`stage${i}`] as TreeRecord<tf.Tensor> | undefined)?.norm as TreeRecord<tf.Tensor> | undefined, y, mode, context)
      nextStats[`stage${i}`] = ns === undefined ? {} : { norm: ns }
      const a = tf.relu(yn)
      // 2×2 average pooling (floor on odd sizes); skipped once the maps are 1 pixel high or wide
      h = a.shape[1]! >= 2 && a.shape[2]! >= 2 ? avgPool2x2(a as tf.Tensor4D) : a
    })
    const feats = context.features ?? (tf.mean(h, [1, 2]) as tf.Tensor2D)
    const heads = context.heads ?? ['classifier', 'projector', 'predictor']
    const out: { features: tf.Tensor2D; logits?: tf.Tensor2D; projection?: tf.Tensor2D; prediction?: tf.Tensor2D; stats: TreeRecord<tf.Tensor> } = { features: feats, stats: nextStats }
    if (params.classifier !== undefined && heads.includes('classifier')) out.logits = dense(feats, params.classifier as Layer)
    if (config.projector !== undefined && heads.includes('projector')) {
      const [z, ps] = head(projectorNorm, params.projector as TreeRecord<tf.Tensor>, (stats.projector ?? {}) as TreeRecord<tf.Tensor>, feats, mode, context)
      out.projection = z
      nextStats.projector = ps
      if (config.predictor !== undefined && heads.includes('predictor')) {
        const [q, qs] = head(predictorNorm, params.predictor as TreeRecord<tf.Tensor>, (stats.predictor ?? {}) as TreeRecord<tf.Tensor>, z, mode, context)
        out.prediction = q
        nextStats.predictor = qs
      }
    }
    // heads that did not run keep their statistics
    for (const k of ['projector', 'predictor'] as const) if (stats[k] !== undefined && nextStats[k] === undefined) nextStats[k] = cloneRecord(stats[k] as TreeRecord<tf.Tensor>)
    return out
  }

  return { config, init, forward }
}

const cloneRecord = (t: TreeRecord<tf.Tensor>): TreeRecord<tf.Tensor> => cloneTree(tfOps, t) as TreeRecord<tf.Tensor>
