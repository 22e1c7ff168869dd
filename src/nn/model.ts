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
import type * as tf from '@tensorflow/tfjs-core'
import { unsafe } from '../codecs/config.js'
import { InvalidArgumentError, PolyakError, showShape } from '../core/errors.js'
import { cloneTree } from '../core/memory.js'
import type { Ops } from '../core/ops.js'
import { type ShapeTensor, placeholder, shapeOps } from '../core/shapeOps.js'
import { tfOps } from '../core/tfOps.js'
import type { Leaf, TreeRecord } from '../core/tree.js'
import { avgPool2x2, composedAvgPool2x2 } from '../kernels/activations.js'
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
  /**
   * The forward pass of a batch of `batch` images run on the shape interpreter (`shapeOps`):
   * microseconds, no tensor memory. Raises the error the real pass would, prefixed with the layer
   * (`stage2/norm: …`); returns the output shapes and each normalized layer's input shape.
   */
  readonly checkShapes: (batch: number, mode?: Mode, context?: ApplyContext) => ShapeReport
}

/** What `checkShapes` reports: the output shapes of a forward pass, found on the shape interpreter. */
export interface ShapeReport {
  readonly features: readonly number[]
  readonly logits?: readonly number[]
  readonly projection?: readonly number[]
  readonly prediction?: readonly number[]
  /** Every normalized layer with the shape it normalizes, e.g. `stage2/norm [8, 3, 3, 64]`. */
  readonly layers: readonly string[]
}

type Rec<T> = TreeRecord<T>
type LayerOf<T> = Record<string, T>

/** An error raised inside a layer names the layer: `stage1/norm: …` (the same on every interpreter). */
const atLayer = <R>(path: string, f: () => R): R => {
  try {
    return f()
  } catch (e) {
    if (e instanceof PolyakError && !e.message.startsWith(`${path}: `)) e.message = `${path}: ${e.message}`
    throw e
  }
}

/**
 * How a model's values come to be on an interpreter: the initial weight of a layer, and 2×2 pooling.
 * On TensorFlow.js: He-normal draws and the fused pooling kernel; on shapes: placeholders and the
 * composed pooling (no values to draw).
 */
interface Realisation<T> {
  readonly weight: (r: Rng, shape: number[], fanIn: number) => T
  readonly pool: (x: T) => T
}

const onTfjs: Realisation<tf.Tensor> = {
  weight: (r, shape, fanIn) => {
    const std = Math.sqrt(2 / fanIn)
    return tfOps.tensor(
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => normal(r) * std),
      shape,
    )
  },
  pool: (x) => avgPool2x2(x as tf.Tensor4D),
}

const onShapes: Realisation<ShapeTensor> = {
  weight: (_r, shape) => shapeOps.zeros(shape),
  pool: (x) => composedAvgPool2x2(shapeOps, x),
}

/** The model on one interpreter: its normalizers built there, `init` and the forward pass written once against `Ops`. */
const buildOn = <T extends Leaf>(ops: Ops<T>, { weight: heNormal, pool }: Realisation<T>, config: ConvNetConfig) => {
  type Norm = Normalizer<T, LayerOf<T>, LayerOf<T>>
  const context = (channels: number) => ({ channels, ...(config.totalSteps === undefined ? {} : { totalSteps: config.totalSteps }) })
  const normalizerOf = (spec: NormSpec, channels: number): Norm | undefined => unsafe(activationNormalizer(ops, spec, context(channels))) as Norm | undefined
  const weightNorm = unsafe(weightNormalizer(ops, config.weightNorm, { layout: 'HWIO' }))
  const stageNorms = config.widths.map((c) => normalizerOf(config.norm, c))
  const headNorm = (h: HeadConfig | undefined) => (h === undefined ? undefined : normalizerOf(h.norm, h.hidden))
  const projectorNorm = headNorm(config.projector)
  const predictorNorm = headNorm(config.predictor)
  const features = config.widths[config.widths.length - 1]!

  const dense = (x: T, p: LayerOf<T>): T => ops.add(ops.matMul(x, p.weight!), p.bias!)

  const initHead = (r: Rng, inDim: number, h: HeadConfig, norm: Norm | undefined) => {
    const ns = norm?.init(h.hidden)
    return {
      params: {
        fc1: { weight: heNormal(r, [inDim, h.hidden], inDim), bias: ops.zeros([h.hidden]) },
        ...(ns === undefined ? {} : { norm: ns.params }),
        fc2: { weight: heNormal(r, [h.hidden, h.out], h.hidden), bias: ops.zeros([h.out]) },
      },
      stats: ns === undefined ? {} : { norm: ns.stats },
    }
  }

  const init = (seed: number): { params: Rec<T>; stats: Rec<T> } => {
    const r = derive(seed, 'convNet.init')
    const params: Rec<T> = {}
    const stats: Rec<T> = {}
    let inC = config.inputShape[2]
    config.widths.forEach((c, i) => {
      const raw = heNormal(r, [3, 3, inC, c], 9 * inC)
      const conv: LayerOf<T> = { weight: raw }
      if (specName(config.norm) === 'none') conv.bias = ops.zeros([c])
      if (weightNorm !== undefined) {
        // the weight normalizer's own parameters (WeightAlign's γ) join the raw weight
        const { weight, ...extra } = weightNorm.init(raw).params as LayerOf<T>
        ops.dispose(weight!)
        Object.assign(conv, extra)
      }
      const ns = atLayer(`stage${i}/norm`, () => stageNorms[i]?.init(c))
      params[`stage${i}`] = { conv, ...(ns === undefined ? {} : { norm: ns.params }) }
      stats[`stage${i}`] = ns === undefined ? {} : { norm: ns.stats }
      inC = c
    })
    if (config.classes !== undefined) params.classifier = { weight: heNormal(r, [features, config.classes], features), bias: ops.zeros([config.classes]) }
    if (config.projector !== undefined) {
      const h = atLayer('projector/norm', () => initHead(r, features, config.projector!, projectorNorm))
      params.projector = h.params
      stats.projector = h.stats
    }
    if (config.predictor !== undefined) {
      const inDim = config.projector?.out ?? features
      const h = atLayer('predictor/norm', () => initHead(r, inDim, config.predictor!, predictorNorm))
      params.predictor = h.params
      stats.predictor = h.stats
    }
    return { params, stats }
  }

  const applyNorm = (path: string, norm: Norm | undefined, p: unknown, s: unknown, x: T, mode: Mode, ctx: ApplyContext): [T, LayerOf<T> | undefined] => {
    if (norm === undefined) return [x, undefined]
    const [y, next] = atLayer(path, () => norm.apply(x, mode, ctx)({ params: p as LayerOf<T>, stats: (s ?? {}) as LayerOf<T> }))
    return [y, next.stats]
  }

  const head = (name: string, norm: Norm | undefined, p: Rec<T>, s: Rec<T>, x: T, mode: Mode, ctx: ApplyContext): [T, Rec<T>] => {
    const z = atLayer(`${name}/fc1`, () => dense(x, p.fc1 as LayerOf<T>))
    const [zn, ns] = applyNorm(`${name}/norm`, norm, p.norm, s.norm, z, mode, ctx)
    return [atLayer(`${name}/fc2`, () => dense(ops.relu(zn), p.fc2 as LayerOf<T>)), ns === undefined ? {} : { norm: ns }]
  }

  const forward = (params: Rec<T>, stats: Rec<T>, x: T, mode: Mode, ctx: ForwardContextOf<T> = {}, trace?: string[]) => {
    let h = x
    const nextStats: Rec<T> = {}
    const clone = (t: unknown): Rec<T> => cloneTree(ops, (t ?? {}) as Rec<T>) as Rec<T>
    config.widths.forEach((_, i) => {
      if (ctx.features !== undefined) {
        nextStats[`stage${i}`] = clone(stats[`stage${i}`])
        return
      }
      const p = params[`stage${i}`] as Rec<T>
      const conv = p.conv as LayerOf<T>
      const y = atLayer(`stage${i}/conv`, () => {
        const w = weightNorm === undefined ? conv.weight! : weightNorm.transform(conv as never)
        const out = ops.conv2d(h, w, 1, 'same')
        return conv.bias === undefined ? out : ops.add(out, conv.bias)
      })
      if (stageNorms[i] !== undefined) trace?.push(`stage${i}/norm ${showShape(y.shape)}`)
      const [yn, ns] = applyNorm(`stage${i}/norm`, stageNorms[i], p.norm, (stats[`stage${i}`] as Rec<T> | undefined)?.norm, y, mode, ctx)
      nextStats[`stage${i}`] = ns === undefined ? {} : { norm: ns }
      const a = ops.relu(yn)
      // 2×2 average pooling (floor on odd sizes); skipped once the maps are 1 pixel high or wide
      h = a.shape[1]! >= 2 && a.shape[2]! >= 2 ? pool(a) : a
    })
    const feats = ctx.features ?? ops.mean(h, [1, 2])
    const heads = ctx.heads ?? ['classifier', 'projector', 'predictor']
    const out: { features: T; logits?: T; projection?: T; prediction?: T; stats: Rec<T> } = { features: feats, stats: nextStats }
    if (params.classifier !== undefined && heads.includes('classifier')) out.logits = atLayer('classifier', () => dense(feats, params.classifier as LayerOf<T>))
    if (config.projector !== undefined && heads.includes('projector')) {
      if (projectorNorm !== undefined) trace?.push(`projector/norm [${feats.shape[0]}, ${config.projector.hidden}]`)
      const [z, ps] = head('projector', projectorNorm, params.projector as Rec<T>, (stats.projector ?? {}) as Rec<T>, feats, mode, ctx)
      out.projection = z
      nextStats.projector = ps
      if (config.predictor !== undefined && heads.includes('predictor')) {
        if (predictorNorm !== undefined) trace?.push(`predictor/norm [${z.shape[0]}, ${config.predictor.hidden}]`)
        const [q, qs] = head('predictor', predictorNorm, params.predictor as Rec<T>, (stats.predictor ?? {}) as Rec<T>, z, mode, ctx)
        out.prediction = q
        nextStats.predictor = qs
      }
    }
    // heads that did not run keep their statistics
    for (const k of ['projector', 'predictor'] as const) if (stats[k] !== undefined && nextStats[k] === undefined) nextStats[k] = clone(stats[k])
    return out
  }
  return { init, forward }
}

/** A forward context whose features are tensors of the interpreter `T`. */
type ForwardContextOf<T> = Omit<ForwardContext, 'features'> & { readonly features?: T }

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
  const real = buildOn(tfOps, onTfjs, config)
  const checkShapes: Model['checkShapes'] = (batch, mode = 'train', context = {}) => {
    const shapes = buildOn(shapeOps, onShapes, config)
    const { params, stats } = shapes.init(0)
    const layers: string[] = []
    const x = placeholder([batch, ...config.inputShape])
    const out = shapes.forward(params, stats, x, mode, { step: 0, ...context }, layers)
    return {
      features: out.features.shape,
      layers,
      ...(out.logits === undefined ? {} : { logits: out.logits.shape }),
      ...(out.projection === undefined ? {} : { projection: out.projection.shape }),
      ...(out.prediction === undefined ? {} : { prediction: out.prediction.shape }),
    }
  }
  return {
    config,
    init: real.init,
    forward: (params, stats, x, mode, context) => real.forward(params, stats, x, mode, context) as ForwardOutput,
    checkShapes,
  }
}
