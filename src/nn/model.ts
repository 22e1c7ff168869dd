/**
 * Models: a backbone `Module` (`nn/module`) that maps images `[H, W, C]` to features `[F]`, and the
 * heads of the pipelines on top of it — a linear classifier, a projector MLP
 * `dense → norm → relu → dense` and a predictor MLP of the same shape (BYOL). `network` builds one
 * from any backbone, a user's own included; `convNet` (here) and `resnet` (`nn/resnet`) are
 * backbones of polyak's.
 *
 * A model is `{init, forward}` over trees of parameters and statistics, like every normalizer;
 * gradients come from `tf.valueAndGrads` over these pure functions (no `tf.Variable`, no
 * tfjs-layers). The same model runs on any interpreter (`on(ops)`): `tfOps` to train,
 * `referenceOps` for a Float64 forward pass, `shapeOps` for `checkShapes`.
 *
 * The normalizer slots of the backbone and of heads that name no normalizer take the model's
 * `norm`: `model.withNorm('eman')` is the EMAN teacher of a BatchNorm student, the same tree paths
 * and shapes (docs/methods.md, "Modules").
 *
 * convNet's architecture (channels last): for each stage, `conv3x3 → norm → relu → avgpool 2×2`
 * (the pooling skipped once the maps are 1 pixel high or wide); then global average pooling gives
 * the features `h`.
 *
 * @module nn/model
 */
import type * as tf from '@tensorflow/tfjs-core'
import { InvalidArgumentError, ShapeMismatchError, showShape } from '../core/errors.js'
import { cloneTree, disposeTree } from '../core/memory.js'
import type { Ops } from '../core/ops.js'
import { type ShapeTensor, placeholder, shapeOps } from '../core/shapeOps.js'
import { tfOps } from '../core/tfOps.js'
import type { Leaf, TreeRecord } from '../core/tree.js'
import type { ApplyContext, Mode } from '../norm/normalizer.js'
import { type NormSpec, specName } from '../norm/registry.js'
import {
  type Built,
  type Env,
  type Initializer,
  type LayerInfo,
  type LayerRow,
  type Module,
  layerTable,
  atPath,
  avgPool,
  conv,
  dense,
  globalAvgPool,
  norm,
  relu,
  sequential,
} from './module.js'
import { derive } from './random.js'

/** The activation normalizer of a layer: a registered name or `{ name, config }` (`norm/registry`), or `'none'`. */
export type { NormSpec }

/** An MLP head `dense → norm → relu → dense`. */
export interface HeadConfig {
  readonly hidden: number
  readonly out: number
  /** The head's normalizer; absent: the model's (`withNorm` swaps it with the backbone's). */
  readonly norm?: NormSpec
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

/** What a forward pass returns on an interpreter of tensors `T`: the features and each head's output, plus the new statistics. */
export interface ForwardOutputOf<T> {
  readonly features: T
  readonly logits?: T
  readonly projection?: T
  readonly prediction?: T
  readonly stats: TreeRecord<T>
}

/** What a forward pass on TensorFlow.js returns (features and head outputs are `[N, F]`). */
export interface ForwardOutput {
  readonly features: tf.Tensor2D
  readonly logits?: tf.Tensor2D
  readonly projection?: tf.Tensor2D
  readonly prediction?: tf.Tensor2D
  readonly stats: TreeRecord<tf.Tensor>
}

/** The heads a forward pass can run. */
export type HeadName = 'classifier' | 'projector' | 'predictor'

/** Context of a forward pass: the normalizers' context, which heads to run, and optionally features to start from. */
export interface ForwardContextOf<T> extends ApplyContext {
  /** Heads to run (default: all the model has). */
  readonly heads?: readonly HeadName[]
  /** Skip the backbone and run the heads on these features (projector-only momentum); `x` is ignored. */
  readonly features?: T
}

/** The context of a forward pass on TensorFlow.js. */
export type ForwardContext = ForwardContextOf<tf.Tensor2D>

/** A model on one interpreter: initial state from a seed, and a pure forward pass. */
export interface ModelOn<T extends Leaf> {
  readonly init: (seed: number) => { params: TreeRecord<T>; stats: TreeRecord<T> }
  readonly forward: (params: TreeRecord<T>, stats: TreeRecord<T>, x: T, mode: Mode, context?: ForwardContextOf<T>) => ForwardOutputOf<T>
}

/** A model: initial state from a seed, and a pure forward pass; `C` is the configuration it was built from. */
export interface Model<C = unknown> {
  readonly config: C
  /** Per-sample input `[H, W, C]`. */
  readonly inputShape: readonly [number, number, number]
  /** The activation normalizer of the slots that name none. */
  readonly norm: NormSpec
  readonly init: (seed: number) => { params: TreeRecord<tf.Tensor>; stats: TreeRecord<tf.Tensor> }
  /**
   * Forward pass of `x` (`[N, H, W, C]`); heads run when present. Not scoped: call it inside
   * `tf.tidy` or a gradient function. The returned statistics are new tensors.
   */
  readonly forward: (params: TreeRecord<tf.Tensor>, stats: TreeRecord<tf.Tensor>, x: tf.Tensor, mode: Mode, context?: ForwardContext) => ForwardOutput
  /** The same model on another interpreter (`referenceOps`: the Float64 oracle of `forward`). */
  readonly on: <T extends Leaf>(ops: Ops<T>) => ModelOn<T>
  /**
   * The forward pass of a batch of `batch` images run on the shape interpreter (`shapeOps`):
   * microseconds, no tensor memory. Raises the error the real pass would, prefixed with the layer
   * (`stage2/norm: …`); returns the output shapes and each normalized layer's input shape.
   */
  readonly checkShapes: (batch: number, mode?: Mode, context?: ApplyContext) => ShapeReport
  /** Every layer: its path, kind, per-sample shapes and parameter count (backbone, then heads). */
  readonly layers: () => readonly LayerRow[]
  /** The same architecture with `spec` in every normalizer slot that names none (a teacher's model). */
  readonly withNorm: (spec: NormSpec) => Model<C>
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

/** Configuration of a `network`: a backbone module, the model's normalizers, and the heads. */
export interface NetworkConfig {
  /** Input `[H, W, C]`. */
  readonly inputShape: readonly [number, number, number]
  /** Images `[H, W, C]` to features `[F]` (end with `globalAvgPool()` or `flatten()`). Its children sit at the top of the tree. */
  readonly backbone: Module
  /** The activation normalizer of every slot that names none (`norm()`, heads without `norm`). */
  readonly norm: NormSpec
  /** The weight normalizer of every `conv` that names none (default `'none'`). */
  readonly weightNorm?: NormSpec
  /** The run's planned number of steps: the horizon of normalizers that need one (Momentum BN's α schedule). */
  readonly totalSteps?: number
  /** Number of classes of a linear classifier head (none when absent). */
  readonly classes?: number
  readonly projector?: HeadConfig
  readonly predictor?: HeadConfig
  /** Label of the random stream of `init` (default `'network.init'`). */
  readonly initLabel?: string
}

const HEADS: readonly HeadName[] = ['classifier', 'projector', 'predictor']

const mlpHead = (h: HeadConfig): Module =>
  sequential({ fc1: dense(h.hidden), norm: h.norm === undefined ? norm() : norm(h.norm), relu: relu(), fc2: dense(h.out) })

/** The built parts of a network on one interpreter. */
interface Parts<T extends Leaf> {
  readonly backbone: Built<T>
  readonly heads: Partial<Record<HeadName, Built<T>>>
}

const buildParts = <T extends Leaf>(config: NetworkConfig, env: Env<T>): Parts<T> => {
  const backbone = config.backbone.build(env, config.inputShape)
  if (backbone.outShape.length !== 1) {
    throw new ShapeMismatchError(
      'backbone',
      `must end in features [F] per sample, got ${showShape(backbone.outShape)}: end it with globalAvgPool() or flatten()`,
    )
  }
  const f = backbone.outShape
  const heads: Partial<Record<HeadName, Built<T>>> = {}
  if (config.classes !== undefined) heads.classifier = atPath('classifier', () => dense(config.classes!).build(env, f))
  if (config.projector !== undefined) heads.projector = atPath('projector', () => mlpHead(config.projector!).build(env, f))
  if (config.predictor !== undefined) heads.predictor = atPath('predictor', () => mlpHead(config.predictor!).build(env, heads.projector?.outShape ?? f))
  return { backbone, heads }
}

const networkOn = <T extends Leaf>(config: NetworkConfig, ops: Ops<T>, initializer?: Initializer<T>) => {
  const env: Env<T> = {
    ops,
    norm: config.norm,
    weightNorm: config.weightNorm ?? 'none',
    ...(config.totalSteps === undefined ? {} : { totalSteps: config.totalSteps }),
    ...(initializer === undefined ? {} : { initializer }),
  }
  const { backbone, heads } = buildParts(config, env)
  const headNames = HEADS.filter((h) => heads[h] !== undefined)
  const clash = backbone.rows.map((r) => r.path.split('/')[0]!).find((n) => (HEADS as readonly string[]).includes(n))
  if (clash !== undefined) throw new InvalidArgumentError('network: backbone', `a child of the backbone may not be called '${clash}' (a head's name)`)

  const init = (seed: number): { params: TreeRecord<T>; stats: TreeRecord<T> } => {
    const r = derive(seed, config.initLabel ?? 'network.init')
    const { params, stats } = backbone.init(r)
    for (const h of headNames) {
      const s = atPath(h, () => heads[h]!.init(r))
      if (Object.keys(s.params).length > 0) params[h] = s.params
      if (Object.keys(s.stats).length > 0) stats[h] = s.stats
    }
    return { params, stats }
  }

  const forward = (params: TreeRecord<T>, stats: TreeRecord<T>, x: T, mode: Mode, ctx: ForwardContextOf<T> = {}): ForwardOutputOf<T> => {
    const headStats = (t: TreeRecord<T>): TreeRecord<T> => Object.fromEntries(Object.entries(t).filter(([k]) => !(HEADS as readonly string[]).includes(k)))
    const nextStats: TreeRecord<T> = {}
    let feats: T
    if (ctx.features !== undefined) {
      feats = ctx.features
      Object.assign(nextStats, cloneTree(ops, headStats(stats)))
    } else {
      const [y, s] = backbone.apply(params, headStats(stats), x, mode, ctx)
      feats = y
      Object.assign(nextStats, s)
    }
    const run = ctx.heads ?? HEADS
    const out: { features: T; logits?: T; projection?: T; prediction?: T; stats: TreeRecord<T> } = { features: feats, stats: nextStats }
    const apply = (h: HeadName, input: T): T => {
      const [y, s] = atPath(h, () => heads[h]!.apply((params[h] ?? {}) as TreeRecord<T>, (stats[h] ?? {}) as TreeRecord<T>, input, mode, ctx))
      if (Object.keys(s).length > 0) nextStats[h] = s
      return y
    }
    if (heads.classifier !== undefined && run.includes('classifier')) out.logits = apply('classifier', feats)
    if (heads.projector !== undefined && run.includes('projector')) {
      out.projection = apply('projector', feats)
      if (heads.predictor !== undefined && run.includes('predictor')) out.prediction = apply('predictor', out.projection)
    }
    // heads that did not run keep their statistics
    for (const h of headNames) if (stats[h] !== undefined && nextStats[h] === undefined) nextStats[h] = cloneTree(ops, stats[h] as TreeRecord<T>)
    return out
  }

  const rows: readonly LayerInfo[] = [
    ...backbone.rows,
    ...headNames.flatMap((h) => heads[h]!.rows.map((r) => ({ ...r, path: r.path === '' ? h : `${h}/${r.path}` }))),
  ]
  return { init, forward, rows }
}

const zerosOnShapes: Initializer<ShapeTensor> = (_r, shape) => shapeOps.zeros(shape)

/**
 * A model from any backbone: the backbone, then the heads the config asks for. The backbone's
 * children sit at the top of the parameter tree, the heads under `classifier`, `projector` and
 * `predictor`.
 *
 * @example
 * const backbone = sequential({ conv: conv(8), norm: norm(), relu: relu(), pool: globalAvgPool() })
 * const model = network({ inputShape: [28, 28, 1], backbone, norm: 'batchNorm', classes: 10 })
 * const teacher = model.withNorm('eman')          // same paths and shapes, EMAN in every slot
 */
export const network = <C = NetworkConfig>(config: NetworkConfig, modelConfig?: C, rebuild?: (spec: NormSpec) => Model<C>): Model<C> => {
  const real = networkOn(config, tfOps)
  // one built model per interpreter; the map forgets `T`, `on` restores it for the interpreter it was built on
  const byOps = new Map<unknown, unknown>([[tfOps, real]])
  const on = <T extends Leaf>(ops: Ops<T>): ModelOn<T> => {
    if (!byOps.has(ops)) byOps.set(ops, networkOn(config, ops))
    return byOps.get(ops) as ModelOn<T>
  }
  // the model on shapes, built once: the shape checks and the layer table (counted off its initialised tree)
  let shapesBuilt: ReturnType<typeof networkOn<ShapeTensor>> | undefined
  const shapes = () => (shapesBuilt ??= networkOn(config, shapeOps, zerosOnShapes))
  let table: readonly LayerRow[] | undefined
  const layers = (): readonly LayerRow[] => {
    if (table === undefined) {
      const { params, stats } = shapes().init(0)
      table = layerTable(shapes().rows, params)
      disposeTree(shapeOps, [params, stats])
    }
    return table
  }
  const checkShapes: Model['checkShapes'] = (batch, mode = 'train', context = {}) => {
    const { params, stats } = shapes().init(0)
    const x = placeholder([batch, ...config.inputShape])
    const out = shapes().forward(params, stats, x, mode, { step: 0, ...context })
    disposeTree(shapeOps, [params, stats, x, out])
    const ran = (path: string) => {
      const top = path.split('/')[0]!
      return top !== 'predictor' || out.prediction !== undefined
    }
    const layers = shapes()
      .rows.filter((r) => r.kind.startsWith('norm ') && r.kind !== 'norm none' && ran(r.path))
      .map((r) => `${r.path} ${showShape([batch, ...r.inShape])}`)
    return {
      features: out.features.shape,
      layers,
      ...(out.logits === undefined ? {} : { logits: out.logits.shape }),
      ...(out.projection === undefined ? {} : { projection: out.projection.shape }),
      ...(out.prediction === undefined ? {} : { prediction: out.prediction.shape }),
    }
  }
  const self: Model<C> = {
    config: (modelConfig ?? config) as C,
    inputShape: config.inputShape,
    norm: config.norm,
    init: real.init,
    forward: real.forward as Model['forward'],
    on,
    checkShapes,
    layers,
    withNorm: (spec) => (rebuild !== undefined ? rebuild(spec) : network<C>({ ...config, norm: spec }, modelConfig)),
  }
  return self
}

/** The backbone of `convNet`: `stage{i} = conv3x3 → norm → relu → avgpool 2×2` for each width, then global average pooling. */
export const convNetBackbone = (inputShape: readonly [number, number, number], widths: readonly number[], withBias: boolean): Module => {
  let [h, w] = inputShape
  const stages: Record<string, Module> = {}
  widths.forEach((c, i) => {
    // 2×2 average pooling (floor on odd sizes), skipped once the maps are 1 pixel high or wide
    const pooled = h >= 2 && w >= 2
    stages[`stage${i}`] = sequential({ conv: conv(c, { bias: withBias }), norm: norm(), relu: relu(), ...(pooled ? { pool: avgPool(2) } : {}) })
    if (pooled) [h, w] = [Math.floor(h / 2), Math.floor(w / 2)]
  })
  return sequential({ ...stages, pool: globalAvgPool() })
}

/**
 * A small conv net with a normalizer slot (see the module doc): `network` with `convNetBackbone`.
 * The convolutions have a bias only when the model has no normalizer.
 *
 * @example
 * const model = convNet({ inputShape: [14, 14, 1], widths: [16, 32], norm: 'batchNorm', weightNorm: 'none', classes: 10 })
 * const { params, stats } = model.init(0)
 * const out = tf.tidy(() => model.forward(params, stats, x, 'train'))
 */
export const convNet = (config: ConvNetConfig): Model<ConvNetConfig> => {
  if (config.widths.length === 0) throw new InvalidArgumentError('convNet: widths', 'needs at least one conv stage')
  return network<ConvNetConfig>(
    {
      ...config,
      backbone: convNetBackbone(config.inputShape, config.widths, specName(config.norm) === 'none'),
      initLabel: 'convNet.init',
    },
    config,
    (spec) => convNet({ ...config, norm: spec }),
  )
}
