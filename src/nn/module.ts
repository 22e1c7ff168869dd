/**
 * The module layer: networks as pure functions of `(params, stats, x)`, written once against the
 * DSL (`Ops<T>`), so that every interpreter runs a whole model — `tfOps` trains it with tfjs
 * autodiff, `referenceOps` gives its Float64 forward pass (the oracle), and `shapeOps` checks it in
 * microseconds without allocating (docs/methods.md, "Modules").
 *
 * A `Module` is a description. `build(env, inShape)` resolves it for one interpreter and one
 * per-sample input shape (no batch axis): the output shape, the layer table, and two pure functions,
 *
 *     init(rng)                                   → { params, stats }
 *     apply(params, stats, x, mode, context)      → [y, stats′]
 *
 * Parameters and statistics are trees whose paths are the children's names (`layer1/0/conv1/weight`),
 * so teacher policies, masks and checkpoints address them by path. A child with no parameters (or no
 * statistics) has no entry.
 *
 * The vocabulary is small and orthogonal (after equinox and flax):
 * - layers: `conv`, `dense`, `norm` (an activation-normalizer slot), `relu`, `maxPool`, `avgPool`,
 *   `globalAvgPool`, `flatten`, `identity`;
 * - combinators: `sequential` (children named by a record, or numbered by an array) and `residual`
 *   (`main(x) + shortcut(x)`, the shortcut the identity or a module of its own).
 *
 * Normalizer slots take registry specs (`norm/registry`). A slot that names none takes the
 * environment's (`Env.norm`, and `Env.weightNorm` for the weight slot of `conv`): the same module,
 * built with another spec, is the EMAN or Momentum BN teacher of the student built with BatchNorm.
 *
 * @module nn/module
 */
import { unsafe } from '../codecs/config.js'
import { InvalidArgumentError, PolyakError, ShapeMismatchError, showShape } from '../core/errors.js'
import { type Ops, type Padding, type PoolKind, convOutput, sizeOf } from '../core/ops.js'
import { type Leaf, type TreeRecord, leaves } from '../core/tree.js'
import type { ApplyContext, Mode, Normalizer } from '../norm/normalizer.js'
import { type NormSpec, activationNormalizer, specName, weightNormalizer } from '../norm/registry.js'
import type { WeightLayout } from '../norm/weightLayout.js'
import type { WeightNormalizer } from '../norm/weightStandardization.js'
import { type Rng, normal } from './random.js'

/** A per-sample shape: the batch axis left out (`[H, W, C]` for images, `[F]` for features). */
export type Shape = readonly number[]

/** How a weight's initial values come to be, from a random source, its shape and its fan-in. */
export type Initializer<T> = (r: Rng, shape: readonly number[], fanIn: number) => T

/** What a module is built with: the interpreter, the default normalizer specs and the weight initializer. */
export interface Env<T extends Leaf> {
  readonly ops: Ops<T>
  /** The activation normalizer of every `norm()` slot that names none (a registry spec, or `'none'`). */
  readonly norm: NormSpec
  /** The weight normalizer of every `conv` that names none (a registry spec, or `'none'`). */
  readonly weightNorm: NormSpec
  /** The run's planned number of steps, for normalizers with a horizon (Momentum BN). */
  readonly totalSteps?: number
  /** Initial weights; `heNormal` by default. */
  readonly initializer?: Initializer<T>
}

/** One leaf layer of a built module: where it sits, what it is, and its per-sample shapes. */
export interface LayerInfo {
  /** The layer's path in the parameter tree (`layer2/0/norm1`). */
  readonly path: string
  /** What the layer is: `conv 3×3/2 64`, `norm batchNorm`, `relu`, … */
  readonly kind: string
  /** Per-sample input and output shapes. */
  readonly inShape: Shape
  readonly outShape: Shape
}

/** One row of a model's layer table: a layer and its number of parameters (statistics not counted). */
export interface LayerRow extends LayerInfo {
  readonly params: number
}

/**
 * The layer table of `rows` with each layer's parameter count read off an initialised parameter
 * tree (the leaves under the layer's path): what `init` makes is what is counted.
 */
export const layerTable = <T extends Leaf>(rows: readonly LayerInfo[], params: TreeRecord<T>): LayerRow[] => {
  const sizes = leaves<T>(params).map(([path, t]) => [path, sizeOf(t.shape)] as const)
  return rows.map((r) => ({ ...r, params: sizes.reduce((n, [path, k]) => (r.path === '' || path.startsWith(`${r.path}/`) ? n + k : n), 0) }))
}

/** A module resolved for one interpreter and one input shape. */
export interface Built<T extends Leaf> {
  readonly outShape: Shape
  /** Every leaf layer, in the order a forward pass meets them (`layerTable` adds the parameter counts). */
  readonly rows: readonly LayerInfo[]
  /** Initial parameters and statistics, drawn from `r` in layer order. */
  init(r: Rng): { params: TreeRecord<T>; stats: TreeRecord<T> }
  /**
   * The forward pass of a batch `x` (`[N, ...inShape]`): the output and the new statistics (new
   * tensors). Not scoped: call it inside `ops.tidy` or a gradient function.
   */
  apply(params: TreeRecord<T>, stats: TreeRecord<T>, x: T, mode: Mode, context: ApplyContext): readonly [T, TreeRecord<T>]
}

/** A network description: built for an interpreter and an input shape by `build`. */
export interface Module {
  /** What the module is, for layer tables (`sequential`, `residual`, `conv 3×3 64`, …). */
  readonly kind: string
  build<T extends Leaf>(env: Env<T>, inShape: Shape): Built<T>
}

const located = new WeakSet<Error>()

/**
 * Runs `f` as the child `name`: a `PolyakError` raised inside gets the child's path in front,
 * `name: …` at the layer that raised it and `parent/name: …` on the way out.
 */
export const atPath = <R>(name: string, f: () => R): R => {
  try {
    return f()
  } catch (e) {
    if (e instanceof PolyakError) {
      e.message = located.has(e) ? `${name}/${e.message}` : `${name}: ${e.message}`
      located.add(e)
    }
    throw e
  }
}

/** He-normal draws `N(0, 2/fanIn)` (He et al. 2015, the ResNet initialisation), rounded by `ops.tensor`. */
export const heNormal =
  <T extends Leaf>(ops: Ops<T>): Initializer<T> =>
  (r, shape, fanIn) => {
    const std = Math.sqrt(2 / fanIn)
    return ops.tensor(
      Float32Array.from({ length: sizeOf(shape) }, () => normal(r) * std),
      shape,
    )
  }

const initializerOf = <T extends Leaf>(env: Env<T>): Initializer<T> => env.initializer ?? heNormal(env.ops)

/**
 * The parameters of a weighted layer: the raw weight `W` (the weight normalizer's own parameters,
 * WeightAlign's γ, beside it), and a zero bias of the weight's last dimension when asked for.
 */
const weightParams = <T extends Leaf>(
  ops: Ops<T>,
  wn: WeightNormalizer<T, { readonly weight: T }> | undefined,
  raw: T,
  bias: boolean,
): { params: TreeRecord<T>; stats: TreeRecord<T> } => {
  const params: Record<string, T> = { weight: raw }
  if (bias) params.bias = ops.zeros([raw.shape[raw.shape.length - 1]!])
  if (wn !== undefined) {
    const { weight, ...extra } = wn.init(raw).params as Record<string, T>
    ops.dispose(weight!)
    Object.assign(params, extra)
  }
  return { params, stats: {} }
}

const leaf = (kind: string, inShape: Shape, outShape: Shape): LayerInfo[] => [{ path: '', kind, inShape, outShape }]

const stateless = <T extends Leaf>(kind: string, inShape: Shape, outShape: Shape, f: (x: T) => T): Built<T> => ({
  outShape,
  rows: leaf(kind, inShape, outShape),
  init: () => ({ params: {}, stats: {} }),
  apply: (_p, _s, x) => [f(x), {}],
})

const checkImage = (op: string, inShape: Shape): readonly [number, number, number] => {
  if (inShape.length !== 3) throw new ShapeMismatchError(op, `expects images [H, W, C] per sample, got ${showShape(inShape)}`)
  return inShape as [number, number, number]
}

const positiveInt = (op: string, field: string, v: number): void => {
  if (!Number.isInteger(v) || v < 1) throw new InvalidArgumentError(`${op}: ${field}`, `must be an integer ≥ 1, got ${v}`)
}

/** Options of `conv`. */
export interface ConvOptions {
  /** Square kernel side (default 3). */
  readonly kernel?: number
  /** Stride (default 1). */
  readonly stride?: number
  /** `'same'` (default) or `'valid'`. */
  readonly padding?: Padding
  /** Add a per-channel bias (default `false`: a normalizer follows). */
  readonly bias?: boolean
  /** The weight normalizer: a spec, `'none'`, or (absent) the environment's `weightNorm`. */
  readonly weightNorm?: NormSpec
}

/**
 * A 2-D convolution, channels last, weight `W` in HWIO layout:
 * `y = conv2d(x, Ŵ, stride, padding) (+ b)`, where `Ŵ = W` or the weight normalizer's transform of
 * `W` (WeightAlign, weight standardisation), whose own parameters (WeightAlign's γ) sit beside `W`.
 * `W` is drawn He-normal with fan-in `k·k·C_in`.
 */
export const conv = (out: number, options: ConvOptions = {}): Module => {
  const k = options.kernel ?? 3
  const stride = options.stride ?? 1
  const padding = options.padding ?? 'same'
  const kind = `conv ${k}×${k}${stride === 1 ? '' : `/${stride}`} ${out}`
  return {
    kind,
    build: <T extends Leaf>(env: Env<T>, inShape: Shape): Built<T> => {
      positiveInt('conv', 'out', out)
      positiveInt('conv', 'kernel', k)
      positiveInt('conv', 'stride', stride)
      const [h, w, c] = checkImage('conv', inShape)
      const outShape = [convOutput(h, k, stride, padding).out, convOutput(w, k, stride, padding).out, out]
      if (outShape[0] === 0 || outShape[1] === 0) throw new ShapeMismatchError('conv', `a ${k}×${k} 'valid' kernel does not fit ${showShape(inShape)}`)
      const { ops } = env
      const wn = unsafe(weightNormalizer(ops, options.weightNorm ?? env.weightNorm, { layout: 'HWIO' satisfies WeightLayout }))
      const init = initializerOf(env)
      return {
        outShape,
        rows: leaf(wn === undefined ? kind : `${kind} + ${wn.name}`, inShape, outShape),
        init: (r) => weightParams(ops, wn, init(r, [k, k, c, out], k * k * c), options.bias === true),
        apply: (p, _s, x) => {
          const params = p as Record<string, T>
          const weight = wn === undefined ? params.weight! : wn.transform(params as never)
          const y = ops.conv2d(x, weight, stride, padding)
          return [params.bias === undefined ? y : ops.add(y, params.bias), {}]
        },
      }
    },
  }
}

/** Options of `dense`. */
export interface DenseOptions {
  /** Add a bias (default `true`). */
  readonly bias?: boolean
  /** A weight normalizer for the `[in, out]` kernel (layout IO), default `'none'`. */
  readonly weightNorm?: NormSpec
}

/** A fully connected layer `y = x·Ŵ + b`, `W` of shape `[in, out]` drawn He-normal with fan-in `in`. */
export const dense = (out: number, options: DenseOptions = {}): Module => ({
  kind: `dense ${out}`,
  build: <T extends Leaf>(env: Env<T>, inShape: Shape): Built<T> => {
    positiveInt('dense', 'out', out)
    if (inShape.length !== 1) throw new ShapeMismatchError('dense', `expects features [F] per sample, got ${showShape(inShape)} (flatten or pool first)`)
    const n = inShape[0]!
    const { ops } = env
    const wn = unsafe(weightNormalizer(ops, options.weightNorm ?? 'none', { layout: 'IO' satisfies WeightLayout }))
    const init = initializerOf(env)
    const bias = options.bias ?? true
    return {
      outShape: [out],
      rows: leaf(`dense ${out}${wn === undefined ? '' : ` + ${wn.name}`}`, inShape, [out]),
      init: (r) => weightParams(ops, wn, init(r, [n, out], n), bias),
      apply: (p, _s, x) => {
        const params = p as Record<string, T>
        const y = ops.matMul(x, wn === undefined ? params.weight! : wn.transform(params as never))
        return [params.bias === undefined ? y : ops.add(y, params.bias), {}]
      },
    }
  },
})

/**
 * An activation-normalizer slot over the last (channel) axis: the normalizer `spec` names, or the
 * environment's `norm` when it names none. Its parameters and statistics are the normalizer's own
 * (BatchNorm: `{gamma, beta}` and `{mean, variance, count}`). `'none'` is the identity.
 */
export const norm = (spec?: NormSpec): Module => ({
  kind: spec === undefined ? 'norm' : `norm ${specName(spec)}`,
  build: <T extends Leaf>(env: Env<T>, inShape: Shape): Built<T> => {
    if (inShape.length === 0) throw new ShapeMismatchError('norm', 'needs a channel axis; got a scalar per sample')
    const chosen = spec ?? env.norm
    const channels = inShape[inShape.length - 1]!
    const context = { channels, ...(env.totalSteps === undefined ? {} : { totalSteps: env.totalSteps }) }
    type N = Normalizer<T, Record<string, T>, Record<string, T>>
    const n = unsafe(activationNormalizer(env.ops, chosen, context)) as N | undefined
    if (n === undefined) return stateless('norm none', inShape, inShape, (x) => x)
    return {
      outShape: inShape,
      rows: leaf(`norm ${n.name}`, inShape, inShape),
      init: () => n.init(channels) as { params: TreeRecord<T>; stats: TreeRecord<T> },
      apply: (p, s, x, mode, ctx) => {
        const [y, next] = n.apply(x, mode, ctx)({ params: p as Record<string, T>, stats: s as Record<string, T> })
        return [y, next.stats as TreeRecord<T>]
      },
    }
  },
})

/** `max(x, 0)`, elementwise. */
export const relu = (): Module => ({
  kind: 'relu',
  build: <T extends Leaf>(env: Env<T>, inShape: Shape) => stateless<T>('relu', inShape, inShape, (x) => env.ops.relu(x)),
})

/** The identity (a residual block's plain shortcut, an empty slot). */
export const identity = (): Module => ({
  kind: 'identity',
  build: <T extends Leaf>(_env: Env<T>, inShape: Shape) => stateless<T>('identity', inShape, inShape, (x) => x),
})

const pool =
  (kindOf: PoolKind) =>
  (window: number, options: { readonly stride?: number; readonly padding?: Padding } = {}): Module => {
    const stride = options.stride ?? window
    const padding = options.padding ?? 'valid'
    const kind = `${kindOf}Pool ${window}×${window}${stride === window ? '' : `/${stride}`}${padding === 'same' ? ' same' : ''}`
    return {
      kind,
      build: <T extends Leaf>(env: Env<T>, inShape: Shape): Built<T> => {
        const [h, w, c] = checkImage(`${kindOf}Pool`, inShape)
        positiveInt(`${kindOf}Pool`, 'window', window)
        positiveInt(`${kindOf}Pool`, 'stride', stride)
        const outShape = [convOutput(h, window, stride, padding).out, convOutput(w, window, stride, padding).out, c]
        if (outShape[0] === 0 || outShape[1] === 0)
          throw new ShapeMismatchError(`${kindOf}Pool`, `a ${window}×${window} 'valid' window does not fit ${showShape(inShape)}`)
        return stateless(kind, inShape, outShape, (x) => env.ops.pool2d(x, kindOf, window, stride, padding))
      },
    }
  }

/** Max pooling over `window × window` windows (stride defaults to the window; padding `'valid'` by default). */
export const maxPool = pool('max')
/** Average pooling over `window × window` windows (stride defaults to the window; padding `'valid'`; `'same'` averages in-bounds elements only). */
export const avgPool = pool('avg')

/** Global average pooling `[H, W, C] → [C]`: `y[b, c] = mean_{i,j} x[b, i, j, c]`. */
export const globalAvgPool = (): Module => ({
  kind: 'globalAvgPool',
  build: <T extends Leaf>(env: Env<T>, inShape: Shape) => {
    const [, , c] = checkImage('globalAvgPool', inShape)
    return stateless<T>('globalAvgPool', inShape, [c], (x) => env.ops.mean(x, [1, 2]))
  },
})

/** `[...dims] → [Π dims]` per sample. */
export const flatten = (): Module => ({
  kind: 'flatten',
  build: <T extends Leaf>(env: Env<T>, inShape: Shape) => stateless<T>('flatten', inShape, [sizeOf(inShape)], (x) => env.ops.reshape(x, [x.shape[0]!, -1])),
})

const under = (name: string, rows: readonly LayerInfo[]): LayerInfo[] => rows.map((r) => ({ ...r, path: r.path === '' ? name : `${name}/${r.path}` }))

const nonEmpty = (t: TreeRecord<unknown>): boolean => Object.keys(t).length > 0

/** Children built in order, each on the previous one's output shape; a child's build error names it. */
const buildChain = <T extends Leaf>(env: Env<T>, inShape: Shape, children: ReadonlyArray<readonly [string, Module]>) => {
  let shape = inShape
  const built: Array<readonly [string, Built<T>]> = []
  for (const [name, m] of children) {
    const b = atPath(name, () => m.build(env, shape))
    built.push([name, b])
    shape = b.outShape
  }
  return { built, outShape: shape }
}

const initChildren = <T extends Leaf>(built: ReadonlyArray<readonly [string, Built<T>]>, r: Rng) => {
  const params: TreeRecord<T> = {}
  const stats: TreeRecord<T> = {}
  for (const [name, b] of built) {
    const s = atPath(name, () => b.init(r))
    if (nonEmpty(s.params)) params[name] = s.params
    if (nonEmpty(s.stats)) stats[name] = s.stats
  }
  return { params, stats }
}

const childOf = <T extends Leaf>(t: TreeRecord<T>, name: string): TreeRecord<T> => (t[name] ?? {}) as TreeRecord<T>

/**
 * Children applied in order, `y = f_n(…f_1(x))`; named by a record (`{ conv, norm, relu }`, the
 * names being the tree paths) or numbered by an array (`0`, `1`, …). Names must be identifiers or
 * numbers (no `/`).
 */
export const sequential = (children: readonly Module[] | Readonly<Record<string, Module>>): Module => {
  const entries: Array<readonly [string, Module]> = Array.isArray(children)
    ? (children as readonly Module[]).map((m, i) => [String(i), m] as const)
    : Object.entries(children as Record<string, Module>)
  for (const [name] of entries) {
    if (!/^[A-Za-z0-9_]+$/.test(name))
      throw new InvalidArgumentError('sequential: children', `child name '${name}' must be letters, digits or _ (it becomes a tree path)`)
  }
  return {
    kind: 'sequential',
    build: <T extends Leaf>(env: Env<T>, inShape: Shape): Built<T> => {
      const { built, outShape } = buildChain(env, inShape, entries)
      return {
        outShape,
        rows: built.flatMap(([name, b]) => under(name, b.rows)),
        init: (r) => initChildren(built, r),
        apply: (params, stats, x, mode, ctx) => {
          let h = x
          const next: TreeRecord<T> = {}
          for (const [name, b] of built) {
            const [y, s] = atPath(name, () => b.apply(childOf(params, name), childOf(stats, name), h, mode, ctx))
            if (nonEmpty(s)) next[name] = s
            h = y
          }
          return [h, next]
        },
      }
    },
  }
}

/** Options of `residual`. */
export interface ResidualOptions {
  /** The shortcut branch (default: the identity), e.g. a strided 1×1 projection with its normalizer. */
  readonly shortcut?: Module
  /** Applied to the sum (a block's ReLU); default: nothing. */
  readonly after?: Module
}

/**
 * A residual connection `y = after(main(x) + shortcut(x))` (He et al. 2016, `y = σ(F(x) + W_s·x)`):
 * the shortcut is the identity when absent. The main branch's children sit at the block's level of
 * the tree, the shortcut under `shortcut` and `after` under `after` (`layer2/0/conv1`,
 * `layer2/0/shortcut/conv`); both branches must give the same shape.
 */
export const residual = (main: Readonly<Record<string, Module>>, options: ResidualOptions = {}): Module => {
  for (const reserved of ['shortcut', 'after']) {
    if (reserved in main) throw new InvalidArgumentError('residual: main', `a child of the main branch may not be called '${reserved}'`)
  }
  const body = sequential(main)
  const { shortcut, after } = options
  return {
    kind: shortcut === undefined ? 'residual' : 'residual (projection)',
    build: <T extends Leaf>(env: Env<T>, inShape: Shape): Built<T> => {
      const m = body.build(env, inShape)
      const s = shortcut === undefined ? undefined : atPath('shortcut', () => shortcut.build(env, inShape))
      const sOut = s?.outShape ?? inShape
      if (sOut.length !== m.outShape.length || sOut.some((d, i) => d !== m.outShape[i])) {
        throw new ShapeMismatchError(
          'residual',
          `the main branch gives ${showShape(m.outShape)} but the ${s === undefined ? 'identity shortcut' : 'shortcut'} gives ${showShape(sOut)}; ` +
            `${s === undefined ? 'give a projection shortcut (e.g. a strided 1×1 conv)' : 'match its stride and channels to the main branch'}`,
        )
      }
      const a = after === undefined ? undefined : atPath('after', () => after.build(env, m.outShape))
      const { ops } = env
      const side = (
        [
          ['shortcut', s],
          ['after', a],
        ] as const
      ).filter((e): e is readonly ['shortcut' | 'after', Built<T>] => e[1] !== undefined)
      return {
        outShape: a?.outShape ?? m.outShape,
        rows: [...m.rows, ...side.flatMap(([name, b]) => under(name, b.rows))],
        init: (r) => {
          const { params, stats } = m.init(r)
          for (const [name, b] of side) {
            const c = atPath(name, () => b.init(r))
            if (nonEmpty(c.params)) params[name] = c.params
            if (nonEmpty(c.stats)) stats[name] = c.stats
          }
          return { params, stats }
        },
        apply: (params, stats, x, mode, ctx) => {
          const [y, next] = m.apply(params, stats, x, mode, ctx)
          let z = x
          if (s !== undefined) {
            const [out, ns] = atPath('shortcut', () => s.apply(childOf(params, 'shortcut'), childOf(stats, 'shortcut'), x, mode, ctx))
            if (nonEmpty(ns)) next.shortcut = ns
            z = out
          }
          const sum = ops.add(y, z)
          if (a === undefined) return [sum, next]
          const [out, ns] = atPath('after', () => a.apply(childOf(params, 'after'), childOf(stats, 'after'), sum, mode, ctx))
          if (nonEmpty(ns)) next.after = ns
          return [out, next]
        },
      }
    },
  }
}
