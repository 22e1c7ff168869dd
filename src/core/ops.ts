/**
 * The DSL's vocabulary: the small set of tensor primitives every normalizer and EMA in polyak is
 * written against. The math is written once, generically in the tensor type `T`, and interpreted by
 * `tfOps` (any registered TensorFlow.js backend) or `referenceOps` (Float64, pure JavaScript: the
 * oracle of the laws).
 *
 * Conventions shared by every interpreter:
 * - Inputs are borrowed: no primitive disposes or mutates its arguments; every result is a new tensor
 *   (or, for `clone`, an independently disposable handle).
 * - Binary elementwise ops broadcast like NumPy; a shape that cannot broadcast is an error naming
 *   both arguments and their shapes.
 * - Scalar weights (`scale`, `axpby`, `lerp`) are JavaScript numbers: derived weights such as
 *   `1 − decay` are computed in float64 before the interpreter rounds them to the tensor's dtype.
 * - Axes may be negative (`-1` is the last axis).
 *
 * @module core/ops
 */
import { InvalidArgumentError, ShapeMismatchError, showShape } from './errors.js'
import type { Leaf } from './tree.js'

/** Element types polyak uses: float32 for values, int32 for counters (e.g. `numBatchesTracked`). */
export type DType = 'float32' | 'int32'

/**
 * Which variance estimator a reduction returns.
 * - `'biased'`: `(1/n)·Σ(x − μ)²` (population; what BatchNorm normalises with, Flax/Keras running var).
 * - `'unbiased'`: `(1/(n−1))·Σ(x − μ)²` (Bessel-corrected; PyTorch's running var, `torch.var` default).
 */
export type VarianceEstimator = 'biased' | 'unbiased'

/** Convolution padding, as in TensorFlow: `'valid'` (none) or `'same'` (output size `ceil(in/stride)`). */
export type Padding = 'valid' | 'same'

/** The reduction of a pooling window: its maximum, or the mean of its in-bounds elements. */
export type PoolKind = 'max' | 'avg'

/** The data of a tensor read back to JavaScript. */
export type TensorData = Float32Array | Int32Array | Float64Array | Uint8Array

/**
 * Options of `axpby`. `donate: true` is buffer donation (JAX's `donate_argnums`): the caller
 * promises `x` will not be read again (it is about to be disposed), so an interpreter that can may
 * write the result into `x`'s storage. `x` must still be disposed by the caller; interpreters that
 * cannot update in place ignore the flag. Without it, no primitive ever touches its inputs.
 */
export interface AxpbyOptions {
  readonly donate?: boolean
}

/** Mean and variance of a reduction. */
export interface Moments<T> {
  readonly mean: T
  readonly variance: T
}

/** Options of `moments` / `variance`. */
export interface MomentsOptions {
  /** Keep reduced axes with size 1 (default `false`). */
  readonly keepDims?: boolean
  /** Variance estimator (default `'biased'`). */
  readonly estimator?: VarianceEstimator
}

/**
 * The primitive vocabulary, interpreted over tensors of type `T`.
 *
 * @typeParam T - the interpreter's tensor type (`tf.Tensor` for `tfOps`, `RefTensor` for `referenceOps`).
 */
export interface Ops<T extends Leaf> {
  /** The interpreter's name, e.g. `'tfjs:wasm'` or `'reference'`. */
  readonly name: string

  // construction ---------------------------------------------------------------------------------
  /** A tensor of `shape` from row-major `data` (length must equal the shape's size). */
  tensor(data: ArrayLike<number>, shape: readonly number[], dtype?: DType): T
  /** A rank-0 tensor. */
  scalar(value: number, dtype?: DType): T
  /** A tensor of `shape` filled with `value`. */
  fill(shape: readonly number[], value: number, dtype?: DType): T
  /** `fill(shape, 0)`. */
  zeros(shape: readonly number[], dtype?: DType): T
  /** `fill(shape, 1)`. */
  ones(shape: readonly number[], dtype?: DType): T

  // readback ---------------------------------------------------------------------------------------
  /** Reads the values back (row-major). Asynchronous because GPU backends read back asynchronously. */
  read(x: T): Promise<TensorData>
  /** Synchronous read, or an error naming the interpreter when it cannot read synchronously (webgpu). */
  readSync(x: T): TensorData

  // elementwise (broadcasting) ------------------------------------------------------------------------
  /** `a + b` */
  add(a: T, b: T): T
  /** `a − b` */
  sub(a: T, b: T): T
  /** `a · b` */
  mul(a: T, b: T): T
  /** `a / b` (floor division for two int32 tensors, as in tfjs) */
  div(a: T, b: T): T
  /** `max(a, b)` elementwise */
  maximum(a: T, b: T): T
  /** `min(a, b)` elementwise */
  minimum(a: T, b: T): T
  /** `−x` */
  neg(x: T): T
  /** `|x|` */
  abs(x: T): T
  /** `x²` */
  square(x: T): T
  /** `√x` */
  sqrt(x: T): T
  /** `1/√x` */
  rsqrt(x: T): T
  /** `eˣ` */
  exp(x: T): T
  /** `ln x` */
  log(x: T): T
  /** `max(x, 0)` */
  relu(x: T): T
  /** `s · x` for a number `s` */
  scale(x: T, s: number): T
  /** `x + s` for a number `s` */
  shift(x: T, s: number): T
  /**
   * `α·x + β·y` with numbers `α`, `β` (BLAS `axpby`). The one weighted-sum primitive behind every
   * EMA and blend: `ema(avg, x, d) = axpby(d, avg, 1 − d, x)` is exact at `d = 0` and `d = 1`.
   */
  axpby(alpha: number, x: T, beta: number, y: T, options?: AxpbyOptions): T
  /**
   * `axpby` over many pairs at once: `out_i = α·x_i + β·y_i` for every `i` (PyTorch's
   * `torch._foreach_*`, apex's multi-tensor apply). Equal to `xs.map((x, i) => axpby(α, x, β, ys[i]))`,
   * with the same errors, and `xs`, `ys` of equal length. The teacher update's primitive: where the
   * backend has the multi-tensor kernel (webgpu) a whole model's leaves take a few dispatches
   * instead of one each; elsewhere `composedAxpbyMany`. `donate` applies to every `x_i` that no
   * other operand of the call is (a tensor used twice is read after its own pair).
   */
  axpbyMany(alpha: number, xs: readonly T[], beta: number, ys: readonly T[], options?: AxpbyOptions): T[]
  /**
   * `(x − center)·scale + offset`, the three coefficients broadcasting against `x`: the elementwise
   * half of every normaliser (BatchNorm: `center = μ`, `scale = γ/√(σ² + ε)`, `offset = β`;
   * WeightAlign: `center = μ_o`, `scale = G·γ_o/√(N·(σ²_o + ε))`, `offset = 0`). One pass where the
   * backend has the fused kernel and the coefficients vary along one axis only.
   */
  normalize(x: T, center: T, scale: T, offset: T): T
  /** Converts to another dtype (float → int32 truncates toward zero). */
  cast(x: T, dtype: DType): T

  // reductions ---------------------------------------------------------------------------------------
  /** Sum over `axes` (all axes when omitted). */
  sum(x: T, axes?: number | readonly number[], keepDims?: boolean): T
  /** Mean over `axes` (all axes when omitted). */
  mean(x: T, axes?: number | readonly number[], keepDims?: boolean): T
  /** Maximum over `axes` (all axes when omitted). */
  max(x: T, axes?: number | readonly number[], keepDims?: boolean): T
  /** Minimum over `axes` (all axes when omitted). */
  min(x: T, axes?: number | readonly number[], keepDims?: boolean): T
  /**
   * Mean `μ = (1/n)·Σx` and variance over `axes`, two-pass (`Σ(x − μ)²`, never `E[x²] − E[x]²`),
   * biased `(1/n)` or unbiased `(1/(n−1))`. `n` is the number of reduced elements; the unbiased
   * estimator with `n = 1` is an error.
   */
  moments(x: T, axes: number | readonly number[], options?: MomentsOptions): Moments<T>
  /**
   * Standardisation over `axes` with a per-slice scale: `y = (x − μ)·scale·(σ² + ε)^(−1/2)`, `μ` and
   * the biased `σ²` over `axes` (as `moments`), `scale` broadcasting to their kept-dims shape. The
   * per-filter half of Weight Standardization (`scale = 1`) and WeightAlign (`scale = G·γ_o/√N`).
   * One kernel where the backend has it; otherwise `composedStandardize`.
   */
  standardize(x: T, axes: number | readonly number[], scale: T, epsilon: number): T

  // shape ----------------------------------------------------------------------------------------------
  /** Same data, new shape (one dimension may be `-1`). */
  reshape(x: T, shape: readonly number[]): T
  /** Permutes axes (`perm` defaults to reversing them). */
  transpose(x: T, perm?: readonly number[]): T
  /** Broadcasts to `shape` (NumPy rules). */
  broadcastTo(x: T, shape: readonly number[]): T
  /** Concatenates along `axis`. */
  concat(xs: readonly T[], axis: number): T
  /** The block starting at `begin` with extent `size` (`-1` means "to the end"). */
  slice(x: T, begin: readonly number[], size: readonly number[]): T

  // linear algebra --------------------------------------------------------------------------------------
  /** Matrix product of two rank-2 tensors, optionally transposing either operand. */
  matMul(a: T, b: T, transposeA?: boolean, transposeB?: boolean): T
  /**
   * 2-D convolution (cross-correlation, as in every DL framework) of `x` in NHWC layout with a filter
   * in HWIO layout, no dilation.
   */
  conv2d(x: T, filter: T, strides: number | readonly [number, number], padding: Padding): T
  /**
   * 2-D pooling of `x` (NHWC) over `window` (`[kh, kw]`) windows, channel by channel:
   * `y[b, i, j, c] = reduce_{(u, v) ∈ W(i, j)} x[b, i·sh + u − top, j·sw + v − left, c]`, where
   * `W(i, j)` is the window's in-bounds positions (TensorFlow's rule: padding is never part of a
   * window, so `'same'` average pooling divides by the number of in-bounds elements), `reduce` is
   * `max` or the mean. Output size and padding as `conv2d`.
   */
  pool2d(x: T, kind: PoolKind, window: number | readonly [number, number], strides: number | readonly [number, number], padding: Padding): T

  // memory ------------------------------------------------------------------------------------------------
  /** An independently disposable handle on the same values (O(1) on cpu/webgpu, a copy on wasm). */
  clone(x: T): T
  /** Frees `x`; later use is an error. Disposing twice is a no-op. */
  dispose(x: T): void
  /** True once `x` has been disposed. */
  isDisposed(x: T): boolean
  /**
   * Runs `f` in a memory scope: every tensor created inside and not reachable from the result (in
   * arrays and plain objects) is freed when `f` returns. `f` must be synchronous.
   */
  tidy<R>(f: () => R): R
  /** Marks `x` to survive the enclosing `tidy` scopes. */
  keep(x: T): T
  /** Number of live (undisposed) tensors of this interpreter: what the no-leak law watches. */
  liveTensors(): number
}

/** The tensor type an `Ops` interprets. */
export type TensorOf<O> = O extends Ops<infer T> ? T : never

/** Number of elements of a shape. */
export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1)

/** Checks a shape: non-negative integer dimensions. */
export const checkShape = (where: string, shape: readonly number[]): void => {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new InvalidArgumentError(where, `shape ${showShape(shape)} must contain non-negative integers`)
    }
  }
}

/**
 * The NumPy broadcast of two shapes, or a `ShapeMismatchError` naming both arguments.
 *
 * @param op - the primitive's name, for the message (e.g. `'add'`).
 */
export const broadcastShapes = (op: string, a: readonly number[], b: readonly number[]): number[] => {
  const rank = Math.max(a.length, b.length)
  const out: number[] = new Array<number>(rank)
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1
    const db = b[b.length - rank + i] ?? 1
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeMismatchError(op, `cannot broadcast argument a ${showShape(a)} with argument b ${showShape(b)} (axis ${i} of the result: ${da} vs ${db})`)
    }
    out[i] = da === 1 ? db : da
  }
  return out
}

/**
 * Normalises reduction axes for a tensor of `rank`: negative axes wrap, duplicates and
 * out-of-range axes are errors; `undefined` means all axes. Returns them sorted.
 */
export const normalizeAxes = (op: string, rank: number, axes: number | readonly number[] | undefined): number[] => {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i)
  const list = typeof axes === 'number' ? [axes] : [...axes]
  const out = list.map((ax) => {
    if (!Number.isInteger(ax) || ax < -rank || ax >= rank) {
      throw new InvalidArgumentError(`${op}: axes`, `axis ${ax} is out of range for a tensor of rank ${rank}`)
    }
    return ax < 0 ? ax + rank : ax
  })
  if (new Set(out).size !== out.length) {
    throw new InvalidArgumentError(`${op}: axes`, `axes [${list.join(',')}] repeat an axis`)
  }
  return out.sort((x, y) => x - y)
}

/** The checks every interpreter's `standardize` runs first: the axes, `ε > 0` finite, and `scale` broadcasting to the kept-dims statistics. Returns the axes. */
export const checkStandardize = (x: readonly number[], axes: number | readonly number[], scale: readonly number[], epsilon: number): number[] => {
  const ax = normalizeAxes('standardize', x.length, axes)
  if (!(Number.isFinite(epsilon) && epsilon > 0)) throw new InvalidArgumentError('standardize: epsilon', `must be a finite number > 0, got ${epsilon}`)
  const stats = reducedShape(x, ax, true)
  const b = broadcastShapes('standardize', stats, scale)
  if (b.length !== stats.length || b.some((d, i) => d !== stats[i]))
    throw new ShapeMismatchError('standardize: scale', `${showShape(scale)} must broadcast to the statistics' shape ${showShape(stats)}`)
  return ax
}

/** The check every interpreter's `axpbyMany` runs first: as many `ys` as `xs`. */
export const checkAxpbyMany = (xs: readonly unknown[], ys: readonly unknown[]): void => {
  if (!Array.isArray(xs)) throw new InvalidArgumentError('axpbyMany: xs', `expected an array of tensors, got ${typeof xs}`)
  if (!Array.isArray(ys)) throw new InvalidArgumentError('axpbyMany: ys', `expected an array of tensors, got ${typeof ys}`)
  if (xs.length !== ys.length) throw new InvalidArgumentError('axpbyMany: ys', `has ${ys.length} tensors, xs has ${xs.length}: they are paired by index`)
}

/** `axpbyMany` written with `axpby`: `out_i = axpby(α, x_i, β, y_i)`, pair by pair (all or nothing: an error frees what was made). */
export const composedAxpbyMany = <T extends Leaf>(
  ops: Ops<T>,
  alpha: number,
  xs: readonly T[],
  beta: number,
  ys: readonly T[],
  options?: AxpbyOptions,
): T[] => {
  checkAxpbyMany(xs, ys)
  // shapes first, so that a bad pair fails before any donated x is written
  xs.forEach((x, i) => {
    const y = ys[i]
    if (Array.isArray(x?.shape) && Array.isArray(y?.shape)) broadcastShapes('axpby', x.shape, y.shape)
  })
  // a tensor that appears more than once in the call is read again after its own pair: never donated
  const uses = new Map<T, number>()
  for (const t of [...xs, ...ys]) uses.set(t, (uses.get(t) ?? 0) + 1)
  const out: T[] = []
  try {
    for (let i = 0; i < xs.length; i++) out.push(ops.axpby(alpha, xs[i]!, beta, ys[i]!, { donate: options?.donate === true && uses.get(xs[i]!) === 1 }))
  } catch (e) {
    // out[i] may share a donated x_i's storage: disposing it drops only its own reference
    out.forEach((t) => ops.dispose(t))
    throw e
  }
  return out
}

/** `standardize` written with the other primitives: `normalize(x, μ, scale·rsqrt(σ² + ε), 0)`. */
export const composedStandardize = <T extends Leaf>(ops: Ops<T>, x: T, axes: readonly number[], scale: T, epsilon: number): T =>
  ops.tidy(() => {
    const m = ops.moments(x, axes, { keepDims: true })
    const factor = ops.mul(scale, ops.rsqrt(ops.shift(m.variance, epsilon)))
    return ops.normalize(x, m.mean, factor, ops.zeros(factor.shape))
  })

/** The shape left after reducing `axes` (kept as size 1 with `keepDims`). */
export const reducedShape = (shape: readonly number[], axes: readonly number[], keepDims: boolean): number[] =>
  keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i))

/** Number of elements that a reduction over `axes` combines into each output element. */
export const reductionCount = (shape: readonly number[], axes: readonly number[]): number => axes.reduce((n, ax) => n * (shape[ax] ?? 1), 1)

/** The unbiased variance needs at least two values; this raises the error that says so. */
export const checkUnbiasedCount = (op: string, n: number): void => {
  if (n < 2) {
    throw new InvalidArgumentError(
      `${op}: estimator`,
      `the unbiased variance divides by n − 1 and needs at least 2 values per reduction, got n = ${n}; ` +
        `use estimator 'biased' or reduce over more elements`,
    )
  }
}

/** Resolves a `-1` in a reshape target against the element count. */
export const resolveReshape = (op: string, from: readonly number[], to: readonly number[]): number[] => {
  const n = sizeOf(from)
  const unknown = to.filter((d) => d === -1).length
  if (unknown > 1) throw new InvalidArgumentError(`${op}: shape`, `at most one -1 allowed, got ${showShape(to)}`)
  const known = to.filter((d) => d !== -1)
  checkShape(`${op}: shape`, known)
  const prod = sizeOf(known)
  const out = to.map((d) => (d === -1 ? (prod === 0 ? 0 : n / prod) : d))
  if (sizeOf(out) !== n || out.some((d) => !Number.isInteger(d))) {
    throw new ShapeMismatchError(op, `cannot reshape ${showShape(from)} (${n} elements) to ${showShape(to)}`)
  }
  return out
}

/** Output spatial size and leading padding of a convolution, TensorFlow's rule. */
export const convOutput = (inSize: number, k: number, stride: number, padding: Padding): { readonly out: number; readonly padBefore: number } => {
  if (padding === 'valid') {
    return { out: Math.max(0, Math.floor((inSize - k) / stride) + 1), padBefore: 0 }
  }
  const out = Math.ceil(inSize / stride)
  const total = Math.max((out - 1) * stride + k - inSize, 0)
  return { out, padBefore: Math.floor(total / 2) }
}

/** Normalises a stride argument to `[sh, sw]`, rejecting non-positive values. */
export const normalizeStrides = (op: string, s: number | readonly [number, number]): [number, number] => {
  const [sh, sw] = typeof s === 'number' ? [s, s] : s
  if (!Number.isInteger(sh) || !Number.isInteger(sw) || sh < 1 || sw < 1) {
    throw new InvalidArgumentError(`${op}: strides`, `strides must be positive integers, got ${String(s)}`)
  }
  return [sh, sw]
}

/** Checks the operands of `conv2d` (NHWC input, HWIO filter) and returns the output shape. */
export const conv2dShape = (x: readonly number[], f: readonly number[], strides: readonly [number, number], padding: Padding): number[] => {
  if (x.length !== 4) throw new ShapeMismatchError('conv2d: x', `input must be rank 4 (NHWC), got ${showShape(x)}`)
  if (f.length !== 4) throw new ShapeMismatchError('conv2d: filter', `filter must be rank 4 (HWIO), got ${showShape(f)}`)
  const [n, h, w, c] = x as [number, number, number, number]
  const [kh, kw, ci, co] = f as [number, number, number, number]
  if (ci !== c) {
    throw new ShapeMismatchError('conv2d', `input has ${c} channels ${showShape(x)} but filter expects ${ci} ${showShape(f)}`)
  }
  const oh = convOutput(h, kh, strides[0], padding).out
  const ow = convOutput(w, kw, strides[1], padding).out
  return [n, oh, ow, co]
}

/** Checks the operands of `pool2d` (NHWC input, a positive window, a known kind) and returns the output shape. */
export const pool2dShape = (
  x: readonly number[],
  kind: PoolKind,
  window: number | readonly [number, number],
  strides: readonly [number, number],
  padding: Padding,
): number[] => {
  if (kind !== 'max' && kind !== 'avg') throw new InvalidArgumentError('pool2d: kind', `expected 'max' or 'avg', got '${String(kind)}'`)
  if (padding !== 'same' && padding !== 'valid') throw new InvalidArgumentError('pool2d: padding', `expected 'same' or 'valid', got '${String(padding)}'`)
  if (x.length !== 4) throw new ShapeMismatchError('pool2d: x', `input must be rank 4 (NHWC), got ${showShape(x)}`)
  const [kh, kw] = typeof window === 'number' ? [window, window] : window
  if (![kh, kw].every((k) => Number.isInteger(k) && k >= 1))
    throw new InvalidArgumentError('pool2d: window', `must be positive integers, got ${String(window)}`)
  const [n, h, w, c] = x as [number, number, number, number]
  const oh = convOutput(h, kh, strides[0], padding).out
  const ow = convOutput(w, kw, strides[1], padding).out
  if (oh === 0 || ow === 0) throw new ShapeMismatchError('pool2d', `a ${kh}×${kw} window with 'valid' padding does not fit the input ${showShape(x)}`)
  return [n, oh, ow, c]
}

/** Checks the operands of `matMul` and returns the output shape. */
export const matMulShape = (a: readonly number[], b: readonly number[], ta: boolean, tb: boolean): number[] => {
  if (a.length !== 2) throw new ShapeMismatchError('matMul: a', `a must be rank 2, got ${showShape(a)}`)
  if (b.length !== 2) throw new ShapeMismatchError('matMul: b', `b must be rank 2, got ${showShape(b)}`)
  const [m, ka] = ta ? [a[1]!, a[0]!] : [a[0]!, a[1]!]
  const [kb, n] = tb ? [b[1]!, b[0]!] : [b[0]!, b[1]!]
  if (ka !== kb) {
    throw new ShapeMismatchError(
      'matMul',
      `inner dimensions differ: a ${showShape(a)}${ta ? 'ᵀ' : ''} has ${ka} columns, b ${showShape(b)}${tb ? 'ᵀ' : ''} has ${kb} rows`,
    )
  }
  return [m, n]
}

/** Checks a permutation of `rank` axes (default: reversed). */
export const normalizePerm = (op: string, rank: number, perm?: readonly number[]): number[] => {
  const p = perm === undefined ? Array.from({ length: rank }, (_, i) => rank - 1 - i) : [...perm]
  const sorted = [...p].sort((x, y) => x - y)
  if (p.length !== rank || sorted.some((v, i) => v !== i)) {
    throw new InvalidArgumentError(`${op}: perm`, `[${p.join(',')}] is not a permutation of ${rank} axes`)
  }
  return p
}

/** Checks `slice` arguments and resolves `-1` sizes. */
export const resolveSlice = (shape: readonly number[], begin: readonly number[], size: readonly number[]): number[] => {
  if (begin.length !== shape.length || size.length !== shape.length) {
    throw new InvalidArgumentError('slice', `begin and size need ${shape.length} entries for shape ${showShape(shape)}`)
  }
  return shape.map((d, i) => {
    const b = begin[i]!
    const s = size[i] === -1 ? d - b : size[i]!
    if (!Number.isInteger(b) || !Number.isInteger(s) || b < 0 || s < 0 || b + s > d) {
      throw new InvalidArgumentError('slice', `begin ${showShape(begin)} size ${showShape(size)} exceed shape ${showShape(shape)} on axis ${i}`)
    }
    return s
  })
}

/** Checks `concat` operands and returns the output shape. */
export const concatShape = (shapes: ReadonlyArray<readonly number[]>, axis: number): { shape: number[]; axis: number } => {
  if (shapes.length === 0) throw new InvalidArgumentError('concat: xs', 'needs at least one tensor')
  const first = shapes[0]!
  const [ax] = normalizeAxes('concat', first.length, axis)
  const out = [...first]
  shapes.slice(1).forEach((s, k) => {
    if (s.length !== first.length || s.some((d, i) => i !== ax && d !== first[i])) {
      throw new ShapeMismatchError(`concat: xs[${k + 1}]`, `${showShape(s)} does not match xs[0] ${showShape(first)} outside axis ${ax}`)
    }
    out[ax!] = out[ax!]! + s[ax!]!
  })
  return { shape: out, axis: ax! }
}
