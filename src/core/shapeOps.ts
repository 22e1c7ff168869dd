/**
 * The third interpreter of the DSL: shapes and dtypes only (the analogue of `jax.eval_shape`).
 * Every primitive of `Ops` computes its result's shape and dtype with the same checks, in the same
 * order, as `referenceOps` and `tfOps` (the shared rules of `core/ops`), and raises the same errors
 * — so any transition, normalizer or pipeline step written against `Ops` can be run on
 * placeholders in microseconds, before a real step, to find broadcast, channel, group and layout
 * mismatches with the path that names them. There are no values: `read` is an error.
 *
 * @example
 * const bn = unsafeBatchNorm(shapeOps)
 * const [y, next] = bn.apply(placeholder([32, 7, 7, 64]), 'train')(bn.init(64))
 * y.shape // [32, 7, 7, 64]
 *
 * @module core/shapeOps
 */
import { DisposedTensorError, InvalidArgumentError, ShapeMismatchError, showShape } from './errors.js'
import {
  type DType,
  type Moments,
  type MomentsOptions,
  type Ops,
  type Padding,
  broadcastShapes,
  checkShape,
  checkUnbiasedCount,
  concatShape,
  conv2dShape,
  matMulShape,
  pool2dShape,
  checkStandardize,
  composedAxpbyMany,
  normalizeAxes,
  normalizePerm,
  normalizeStrides,
  reducedShape,
  reductionCount,
  resolveReshape,
  resolveSlice,
  sizeOf,
} from './ops.js'
import { type Leaf, type MapLeaves, type Tree, mapAny } from './tree.js'

/** A tensor of the shape interpreter: a shape and a dtype, no values. */
export class ShapeTensor implements Leaf {
  #disposed = false

  constructor(
    readonly shape: readonly number[],
    readonly dtype: DType,
  ) {
    live.add(this)
  }

  /** True once disposed. */
  get isDisposed(): boolean {
    return this.#disposed
  }

  /** Frees the placeholder (idempotent). */
  dispose(): void {
    this.#disposed = true
    live.delete(this)
  }

  toString(): string {
    return `ShapeTensor(${this.dtype}, ${showShape(this.shape)})`
  }
}

const live = new Set<ShapeTensor>()

/** A placeholder of `shape` and `dtype` (default float32): the input of a shape-only run. */
export const placeholder = (shape: readonly number[], dtype: DType = 'float32'): ShapeTensor => {
  checkShape('placeholder: shape', shape)
  return new ShapeTensor([...shape], dtype)
}

/**
 * The placeholders of a tree of tensors of any interpreter (or of `{shape, dtype}` records):
 * the same structure, every leaf replaced by a `ShapeTensor` of its shape and dtype.
 */
export const abstractTree = <T extends Tree<L>, L extends Leaf>(tree: T): MapLeaves<T, L, ShapeTensor> =>
  mapAny(tree, (leaf) => placeholder((leaf as Leaf).shape, ((leaf as Leaf).dtype === 'int32' ? 'int32' : 'float32') as DType)) as MapLeaves<T, L, ShapeTensor>

const describe = (x: unknown): string => (x === null ? 'null' : typeof x === 'object' ? (x.constructor?.name ?? 'object') : typeof x)

const arg = (x: ShapeTensor, where: string): ShapeTensor => {
  if (!(x instanceof ShapeTensor)) {
    throw new InvalidArgumentError(where, `expected a shape placeholder, got ${describe(x)}; tensors of another backend cannot be mixed in`)
  }
  if (x.isDisposed) throw new DisposedTensorError(where)
  return x
}

const binary = (op: string, a: ShapeTensor, b: ShapeTensor, dtype?: DType): ShapeTensor => {
  arg(a, `${op}: a`)
  arg(b, `${op}: b`)
  return new ShapeTensor(broadcastShapes(op, a.shape, b.shape), dtype ?? (a.dtype === 'int32' && b.dtype === 'int32' ? 'int32' : 'float32'))
}

const unary = (op: string, x: ShapeTensor, dtype?: DType): ShapeTensor => new ShapeTensor(arg(x, `${op}: x`).shape, dtype ?? x.dtype)

const reduce = (op: string, x: ShapeTensor, axes: number | readonly number[] | undefined, keepDims: boolean, dtype?: DType): ShapeTensor => {
  arg(x, `${op}: x`)
  const ax = normalizeAxes(op, x.shape.length, axes)
  return new ShapeTensor(reducedShape(x.shape, ax, keepDims), dtype ?? x.dtype)
}

const checkFinite = (op: string, name: string, v: number): void => {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidArgumentError(`${op}: ${name}`, `must be a number, got ${String(v)}`)
}

const noValues = (op: string): never => {
  throw new InvalidArgumentError(`${op}: x`, 'the shape interpreter has shapes and dtypes only; read a tensor of a real backend')
}

/** The shape-only interpreter: `Ops<ShapeTensor>`. */
export const shapeOps: Ops<ShapeTensor> = {
  name: 'shapes',

  tensor(data, shape, dtype = 'float32') {
    checkShape('tensor: shape', shape)
    if (data.length !== sizeOf(shape)) {
      throw new ShapeMismatchError('tensor: data', `${data.length} values do not fill shape ${showShape(shape)} (${sizeOf(shape)} elements)`)
    }
    return new ShapeTensor([...shape], dtype)
  },
  scalar: (_value, dtype = 'float32') => new ShapeTensor([], dtype),
  fill(shape, _value, dtype = 'float32') {
    checkShape('fill: shape', shape)
    return new ShapeTensor([...shape], dtype)
  },
  zeros: (shape, dtype = 'float32') => shapeOps.fill(shape, 0, dtype),
  ones: (shape, dtype = 'float32') => shapeOps.fill(shape, 1, dtype),

  read: () => Promise.reject(new InvalidArgumentError('read: x', 'the shape interpreter has shapes and dtypes only; read a tensor of a real backend')),
  readSync: () => noValues('readSync'),

  add: (a, b) => binary('add', a, b),
  sub: (a, b) => binary('sub', a, b),
  mul: (a, b) => binary('mul', a, b),
  div: (a, b) => binary('div', a, b),
  maximum: (a, b) => binary('maximum', a, b),
  minimum: (a, b) => binary('minimum', a, b),
  neg: (x) => unary('neg', x),
  abs: (x) => unary('abs', x),
  square: (x) => unary('square', x),
  sqrt: (x) => unary('sqrt', x, 'float32'),
  rsqrt: (x) => unary('rsqrt', x, 'float32'),
  exp: (x) => unary('exp', x, 'float32'),
  log: (x) => unary('log', x, 'float32'),
  relu: (x) => unary('relu', x),
  scale(x, s) {
    checkFinite('scale', 's', s)
    return unary('scale', x, 'float32')
  },
  shift(x, s) {
    checkFinite('shift', 's', s)
    return unary('shift', x, 'float32')
  },
  axpby(alpha, x, beta, y) {
    checkFinite('axpby', 'alpha', alpha)
    checkFinite('axpby', 'beta', beta)
    return binary('axpby', x, y, 'float32')
  },
  axpbyMany(alpha, xs, beta, ys) {
    return composedAxpbyMany(shapeOps, alpha, xs, beta, ys)
  },
  normalize(x, center, scale, offset) {
    const args = [x, center, scale, offset] as const
    const names = ['x', 'center', 'scale', 'offset'] as const
    args.forEach((t, i) => arg(t, `normalize: ${names[i]}`))
    const shape = args.slice(1).reduce<readonly number[]>((sh, t) => broadcastShapes('normalize', sh, t.shape), x.shape)
    return new ShapeTensor([...shape], 'float32')
  },
  cast: (x, dtype) => unary('cast', x, dtype),

  sum: (x, axes, keepDims = false) => reduce('sum', x, axes, keepDims),
  mean: (x, axes, keepDims = false) => reduce('mean', x, axes, keepDims, 'float32'),
  max: (x, axes, keepDims = false) => reduce('max', x, axes, keepDims),
  min: (x, axes, keepDims = false) => reduce('min', x, axes, keepDims),
  moments(x, axes, options: MomentsOptions = {}): Moments<ShapeTensor> {
    arg(x, 'moments: x')
    const ax = normalizeAxes('moments', x.shape.length, axes)
    if ((options.estimator ?? 'biased') === 'unbiased') checkUnbiasedCount('moments', reductionCount(x.shape, ax))
    const shape = reducedShape(x.shape, ax, options.keepDims ?? false)
    return { mean: new ShapeTensor(shape, 'float32'), variance: new ShapeTensor(shape, 'float32') }
  },

  standardize(x, axes, scale, epsilon) {
    arg(x, 'standardize: x')
    arg(scale, 'standardize: scale')
    checkStandardize(x.shape, axes, scale.shape, epsilon)
    return new ShapeTensor(x.shape, 'float32')
  },

  reshape: (x, shape) => new ShapeTensor(resolveReshape('reshape', arg(x, 'reshape: x').shape, shape), x.dtype),
  transpose(x, perm) {
    const p = normalizePerm('transpose', arg(x, 'transpose: x').shape.length, perm)
    return new ShapeTensor(
      p.map((i) => x.shape[i]!),
      x.dtype,
    )
  },
  broadcastTo(x, shape) {
    arg(x, 'broadcastTo: x')
    checkShape('broadcastTo: shape', shape)
    const target = broadcastShapes('broadcastTo', x.shape, shape)
    if (target.length !== shape.length || target.some((d, i) => d !== shape[i])) {
      throw new ShapeMismatchError('broadcastTo', `cannot broadcast ${showShape(x.shape)} to ${showShape(shape)}`)
    }
    return new ShapeTensor([...shape], x.dtype)
  },
  concat(xs, axis) {
    xs.forEach((t, i) => arg(t, `concat: xs[${i}]`))
    return new ShapeTensor(
      concatShape(
        xs.map((t) => t.shape),
        axis,
      ).shape,
      xs[0]!.dtype,
    )
  },
  slice: (x, begin, size) => new ShapeTensor(resolveSlice(arg(x, 'slice: x').shape, begin, size), x.dtype),

  matMul: (a, b, transposeA = false, transposeB = false) =>
    new ShapeTensor(matMulShape(arg(a, 'matMul: a').shape, arg(b, 'matMul: b').shape, transposeA, transposeB), 'float32'),
  conv2d(x, filter, strides, padding: Padding) {
    arg(x, 'conv2d: x')
    arg(filter, 'conv2d: filter')
    return new ShapeTensor(conv2dShape(x.shape, filter.shape, normalizeStrides('conv2d', strides), padding), 'float32')
  },
  pool2d(x, kind, window, strides, padding) {
    arg(x, 'pool2d: x')
    return new ShapeTensor(pool2dShape(x.shape, kind, window, normalizeStrides('pool2d', strides), padding), x.dtype)
  },

  clone: (x) => new ShapeTensor(arg(x, 'clone: x').shape, x.dtype),
  dispose: (x) => x.dispose(),
  isDisposed: (x) => x.isDisposed,
  tidy<R>(f: () => R): R {
    const r = f()
    if (r instanceof Promise) throw new InvalidArgumentError('tidy: f', 'must be synchronous; it returned a Promise')
    return r
  },
  keep: (x) => x,
  liveTensors: () => live.size,
}
