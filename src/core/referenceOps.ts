/**
 * The Float64 reference interpreter of the DSL: every primitive of `Ops` in plain JavaScript numbers,
 * written for obviousness rather than speed. It is the oracle that the laws and the conformance suite
 * compare every TensorFlow.js backend against, and a backend in its own right (`reference`).
 *
 * Tensors are immutable `RefTensor`s. Memory is tracked like tfjs's engine (scopes, `keep`,
 * `dispose`, a live-tensor count), so the ownership laws (no leaks, inputs never disposed) can be
 * checked on the reference too.
 *
 * @module core/referenceOps
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
  convOutput,
  matMulShape,
  pool2dShape,
  checkStandardize,
  composedAxpbyMany,
  composedStandardize,
  normalizeAxes,
  normalizePerm,
  normalizeStrides,
  reducedShape,
  reductionCount,
  resolveReshape,
  resolveSlice,
  sizeOf,
} from './ops.js'
import { isNode } from './tree.js'

/** An immutable Float64 tensor of the reference interpreter. */
export class RefTensor {
  /** Values in row-major order, stored in float64 whatever the dtype label. */
  readonly #values: Float64Array
  #disposed = false
  #kept = false

  constructor(
    values: Float64Array,
    readonly shape: readonly number[],
    readonly dtype: DType,
  ) {
    this.#values = values
    live.add(this)
    scopes[scopes.length - 1]?.add(this)
  }

  /** True once disposed. */
  get isDisposed(): boolean {
    return this.#disposed
  }

  /** Number of elements. */
  get size(): number {
    return this.#values.length
  }

  /** @internal the values; callers must not write to them. */
  valuesUnsafe(where: string): Float64Array {
    if (this.#disposed) throw new DisposedTensorError(where)
    return this.#values
  }

  /** Frees the tensor (idempotent). */
  dispose(): void {
    if (this.#disposed) return
    this.#disposed = true
    live.delete(this)
  }

  /** @internal */
  markKept(): void {
    this.#kept = true
  }

  /** @internal */
  get kept(): boolean {
    return this.#kept
  }

  toString(): string {
    return `RefTensor(${this.dtype}, ${showShape(this.shape)})`
  }
}

const live = new Set<RefTensor>()
const scopes: Array<Set<RefTensor>> = []

/** Live-tensor count of the reference interpreter (the analogue of `tf.memory().numTensors`). */
export const referenceMemory = (): { readonly numTensors: number } => ({ numTensors: live.size })

const castValue = (v: number, dtype: DType): number => (dtype === 'int32' ? Math.trunc(v) | 0 : v)

const make = (values: Float64Array, shape: readonly number[], dtype: DType): RefTensor => {
  if (dtype === 'int32') for (let i = 0; i < values.length; i++) values[i] = castValue(values[i]!, 'int32')
  return new RefTensor(values, [...shape], dtype)
}

const stridesOf = (shape: readonly number[]): number[] => {
  const s = new Array<number>(shape.length)
  let acc = 1
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc
    acc *= shape[i]!
  }
  return s
}

const vals = (x: RefTensor, where: string): Float64Array => {
  if (!(x instanceof RefTensor)) {
    throw new InvalidArgumentError(where, `expected a reference tensor, got ${describe(x)}; tensors of another backend cannot be mixed in`)
  }
  return x.valuesUnsafe(where)
}

const describe = (x: unknown): string => (x === null ? 'null' : typeof x === 'object' ? (x.constructor?.name ?? 'object') : typeof x)

/** Iterates every multi-index of `shape`, calling `f(flatIndex, index)`. */
const forEachIndex = (shape: readonly number[], f: (flat: number, idx: number[]) => void): void => {
  const n = sizeOf(shape)
  const idx = new Array<number>(shape.length).fill(0)
  for (let flat = 0; flat < n; flat++) {
    f(flat, idx)
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d]! += 1
      if (idx[d]! < shape[d]!) break
      idx[d] = 0
    }
  }
}

/** Offsets into a tensor of shape `from` when read as broadcast to `to`. */
const broadcastOffsets = (from: readonly number[], to: readonly number[]): Int32Array => {
  const st = stridesOf(from)
  const lead = to.length - from.length
  const out = new Int32Array(sizeOf(to))
  forEachIndex(to, (flat, idx) => {
    let off = 0
    for (let d = 0; d < from.length; d++) off += from[d] === 1 ? 0 : idx[d + lead]! * st[d]!
    out[flat] = off
  })
  return out
}

const binary = (op: string, a: RefTensor, b: RefTensor, f: (x: number, y: number) => number, dtype?: DType): RefTensor => {
  const va = vals(a, `${op}: a`)
  const vb = vals(b, `${op}: b`)
  const shape = broadcastShapes(op, a.shape, b.shape)
  const oa = broadcastOffsets(a.shape, shape)
  const ob = broadcastOffsets(b.shape, shape)
  const out = new Float64Array(oa.length)
  for (let i = 0; i < out.length; i++) out[i] = f(va[oa[i]!]!, vb[ob[i]!]!)
  return make(out, shape, dtype ?? (a.dtype === 'int32' && b.dtype === 'int32' ? 'int32' : 'float32'))
}

const unary = (op: string, x: RefTensor, f: (v: number) => number, dtype?: DType): RefTensor => {
  const v = vals(x, `${op}: x`)
  const out = new Float64Array(v.length)
  for (let i = 0; i < v.length; i++) out[i] = f(v[i]!)
  return make(out, x.shape, dtype ?? x.dtype)
}

/** Groups the flat indices of `x` by output element of a reduction over `axes`. */
const reduce = (
  op: string,
  x: RefTensor,
  axes: number | readonly number[] | undefined,
  keepDims: boolean,
  init: number,
  step: (acc: number, v: number) => number,
): { out: Float64Array; shape: number[]; axes: number[]; outIndex: Int32Array } => {
  const v = vals(x, `${op}: x`)
  const ax = normalizeAxes(op, x.shape.length, axes)
  const shape = reducedShape(x.shape, ax, keepDims)
  const kept = x.shape.map((_, i) => i).filter((i) => !ax.includes(i))
  const keptShape = kept.map((i) => x.shape[i]!)
  const keptStrides = stridesOf(keptShape)
  const outIndex = new Int32Array(v.length)
  const out = new Float64Array(sizeOf(keptShape)).fill(init)
  forEachIndex(x.shape, (flat, idx) => {
    let o = 0
    for (let k = 0; k < kept.length; k++) o += idx[kept[k]!]! * keptStrides[k]!
    outIndex[flat] = o
    out[o] = step(out[o]!, v[flat]!)
  })
  return { out, shape, axes: ax, outIndex }
}

const checkFinite = (op: string, name: string, v: number): void => {
  if (typeof v !== 'number' || Number.isNaN(v)) {
    throw new InvalidArgumentError(`${op}: ${name}`, `must be a number, got ${String(v)}`)
  }
}

/** Walks a tidy result and collects the reference tensors reachable from it. */
const reachable = (result: unknown, acc: Set<RefTensor>): Set<RefTensor> => {
  if (result instanceof RefTensor) acc.add(result)
  else if (Array.isArray(result)) result.forEach((r) => reachable(r, acc))
  else if (isNode(result)) Object.values(result).forEach((r) => reachable(r, acc))
  return acc
}

/**
 * The Float64 reference interpreter.
 *
 * @example
 * const ops = referenceOps
 * const y = ops.axpby(0.9, ops.tensor([1, 2], [2]), 0.1, ops.tensor([3, 4], [2])) // [1.2, 2.2]
 */
export const referenceOps: Ops<RefTensor> = {
  name: 'reference',

  tensor(data, shape, dtype = 'float32') {
    checkShape('tensor: shape', shape)
    if (data.length !== sizeOf(shape)) {
      throw new ShapeMismatchError('tensor: data', `${data.length} values do not fill shape ${showShape(shape)} (${sizeOf(shape)} elements)`)
    }
    return make(Float64Array.from(data), shape, dtype)
  },
  scalar(value, dtype = 'float32') {
    return make(Float64Array.of(value), [], dtype)
  },
  fill(shape, value, dtype = 'float32') {
    checkShape('fill: shape', shape)
    return make(new Float64Array(sizeOf(shape)).fill(value), shape, dtype)
  },
  zeros(shape, dtype = 'float32') {
    return referenceOps.fill(shape, 0, dtype)
  },
  ones(shape, dtype = 'float32') {
    return referenceOps.fill(shape, 1, dtype)
  },

  read(x) {
    return Promise.resolve(referenceOps.readSync(x))
  },
  readSync(x) {
    return Float64Array.from(vals(x, 'read: x'))
  },

  add: (a, b) => binary('add', a, b, (x, y) => x + y),
  sub: (a, b) => binary('sub', a, b, (x, y) => x - y),
  mul: (a, b) => binary('mul', a, b, (x, y) => x * y),
  div: (a, b) => (a.dtype === 'int32' && b.dtype === 'int32' ? binary('div', a, b, (x, y) => Math.floor(x / y)) : binary('div', a, b, (x, y) => x / y)),
  maximum: (a, b) => binary('maximum', a, b, (x, y) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.max(x, y))),
  minimum: (a, b) => binary('minimum', a, b, (x, y) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.min(x, y))),
  neg: (x) => unary('neg', x, (v) => -v),
  abs: (x) => unary('abs', x, Math.abs),
  square: (x) => unary('square', x, (v) => v * v),
  sqrt: (x) => unary('sqrt', x, Math.sqrt, 'float32'),
  rsqrt: (x) => unary('rsqrt', x, (v) => 1 / Math.sqrt(v), 'float32'),
  exp: (x) => unary('exp', x, Math.exp, 'float32'),
  log: (x) => unary('log', x, Math.log, 'float32'),
  relu: (x) => unary('relu', x, (v) => (Number.isNaN(v) ? NaN : v > 0 ? v : 0)),
  scale(x, s) {
    checkFinite('scale', 's', s)
    return unary('scale', x, (v) => s * v, 'float32')
  },
  shift(x, s) {
    checkFinite('shift', 's', s)
    return unary('shift', x, (v) => v + s, 'float32')
  },
  axpby(alpha, x, beta, y, _options) {
    checkFinite('axpby', 'alpha', alpha)
    checkFinite('axpby', 'beta', beta)
    return binary('axpby', x, y, (u, v) => alpha * u + beta * v, 'float32')
  },
  axpbyMany(alpha, xs, beta, ys, options) {
    return composedAxpbyMany(referenceOps, alpha, xs, beta, ys, options)
  },
  normalize(x, center, scale, offset) {
    const args = [x, center, scale, offset] as const
    const names = ['x', 'center', 'scale', 'offset'] as const
    const vs = args.map((t, i) => vals(t, `normalize: ${names[i]}`))
    const shape = args.slice(1).reduce<readonly number[]>((sh, t) => broadcastShapes('normalize', sh, t.shape), x.shape)
    const [ox, oc, os, oo] = args.map((t) => broadcastOffsets(t.shape, shape)) as [Int32Array, Int32Array, Int32Array, Int32Array]
    const [vx, vc, vsc, vo] = vs as [Float64Array, Float64Array, Float64Array, Float64Array]
    const out = new Float64Array(ox.length)
    for (let i = 0; i < out.length; i++) out[i] = (vx[ox[i]!]! - vc[oc[i]!]!) * vsc[os[i]!]! + vo[oo[i]!]!
    return make(out, shape, 'float32')
  },
  standardize(x, axes, scale, epsilon) {
    vals(x, 'standardize: x')
    vals(scale, 'standardize: scale')
    return composedStandardize(referenceOps, x, checkStandardize(x.shape, axes, scale.shape, epsilon), scale, epsilon)
  },
  cast: (x, dtype) => unary('cast', x, (v) => castValue(v, dtype), dtype),

  sum(x, axes, keepDims = false) {
    const r = reduce('sum', x, axes, keepDims, 0, (acc, v) => acc + v)
    return make(r.out, r.shape, x.dtype)
  },
  mean(x, axes, keepDims = false) {
    const r = reduce('mean', x, axes, keepDims, 0, (acc, v) => acc + v)
    const n = reductionCount(x.shape, r.axes)
    return make(
      r.out.map((s) => s / n),
      r.shape,
      'float32',
    )
  },
  max(x, axes, keepDims = false) {
    const r = reduce('max', x, axes, keepDims, -Infinity, (acc, v) => (Number.isNaN(acc) || Number.isNaN(v) ? NaN : Math.max(acc, v)))
    return make(r.out, r.shape, x.dtype)
  },
  min(x, axes, keepDims = false) {
    const r = reduce('min', x, axes, keepDims, Infinity, (acc, v) => (Number.isNaN(acc) || Number.isNaN(v) ? NaN : Math.min(acc, v)))
    return make(r.out, r.shape, x.dtype)
  },
  moments(x, axes, options: MomentsOptions = {}): Moments<RefTensor> {
    const keepDims = options.keepDims ?? false
    const estimator = options.estimator ?? 'biased'
    const r = reduce('moments', x, axes, keepDims, 0, (acc, v) => acc + v)
    const n = reductionCount(x.shape, r.axes)
    if (estimator === 'unbiased') checkUnbiasedCount('moments', n)
    const mean = r.out.map((s) => s / n)
    const v = vals(x, 'moments: x')
    const ss = new Float64Array(mean.length)
    for (let i = 0; i < v.length; i++) {
      const d = v[i]! - mean[r.outIndex[i]!]!
      ss[r.outIndex[i]!]! += d * d
    }
    const denom = estimator === 'unbiased' ? n - 1 : n
    return {
      mean: make(mean, r.shape, 'float32'),
      variance: make(
        ss.map((s) => s / denom),
        r.shape,
        'float32',
      ),
    }
  },

  reshape(x, shape) {
    const to = resolveReshape('reshape', x.shape, shape)
    return make(Float64Array.from(vals(x, 'reshape: x')), to, x.dtype)
  },
  transpose(x, perm) {
    const v = vals(x, 'transpose: x')
    const p = normalizePerm('transpose', x.shape.length, perm)
    const shape = p.map((i) => x.shape[i]!)
    const st = stridesOf(x.shape)
    const out = new Float64Array(v.length)
    forEachIndex(shape, (flat, idx) => {
      let off = 0
      for (let d = 0; d < p.length; d++) off += idx[d]! * st[p[d]!]!
      out[flat] = v[off]!
    })
    return make(out, shape, x.dtype)
  },
  broadcastTo(x, shape) {
    const v = vals(x, 'broadcastTo: x')
    checkShape('broadcastTo: shape', shape)
    const target = broadcastShapes('broadcastTo', x.shape, shape)
    if (target.length !== shape.length || target.some((d, i) => d !== shape[i])) {
      throw new ShapeMismatchError('broadcastTo', `cannot broadcast ${showShape(x.shape)} to ${showShape(shape)}`)
    }
    const off = broadcastOffsets(x.shape, shape)
    return make(
      Float64Array.from(off, (o) => v[o]!),
      shape,
      x.dtype,
    )
  },
  concat(xs, axis) {
    const { shape, axis: ax } = concatShape(
      xs.map((x) => x.shape),
      axis,
    )
    const out = new Float64Array(sizeOf(shape))
    const st = stridesOf(shape)
    let base = 0
    xs.forEach((x, k) => {
      const v = vals(x, `concat: xs[${k}]`)
      forEachIndex(x.shape, (flat, idx) => {
        let off = 0
        for (let d = 0; d < idx.length; d++) off += (d === ax ? idx[d]! + base : idx[d]!) * st[d]!
        out[off] = v[flat]!
      })
      base += x.shape[ax]!
    })
    return make(out, shape, xs[0]!.dtype)
  },
  slice(x, begin, size) {
    const v = vals(x, 'slice: x')
    const shape = resolveSlice(x.shape, begin, size)
    const st = stridesOf(x.shape)
    const out = new Float64Array(sizeOf(shape))
    forEachIndex(shape, (flat, idx) => {
      let off = 0
      for (let d = 0; d < idx.length; d++) off += (idx[d]! + begin[d]!) * st[d]!
      out[flat] = v[off]!
    })
    return make(out, shape, x.dtype)
  },

  matMul(a, b, transposeA = false, transposeB = false) {
    const va = vals(a, 'matMul: a')
    const vb = vals(b, 'matMul: b')
    const [m, n] = matMulShape(a.shape, b.shape, transposeA, transposeB) as [number, number]
    const k = transposeA ? a.shape[0]! : a.shape[1]!
    const aAt = (i: number, p: number): number => (transposeA ? va[p * a.shape[1]! + i]! : va[i * a.shape[1]! + p]!)
    const bAt = (p: number, j: number): number => (transposeB ? vb[j * b.shape[1]! + p]! : vb[p * b.shape[1]! + j]!)
    const out = new Float64Array(m * n)
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0
        for (let p = 0; p < k; p++) s += aAt(i, p) * bAt(p, j)
        out[i * n + j] = s
      }
    }
    return make(out, [m, n], 'float32')
  },
  conv2d(x, filter, strides, padding: Padding) {
    const vx = vals(x, 'conv2d: x')
    const vf = vals(filter, 'conv2d: filter')
    const [sh, sw] = normalizeStrides('conv2d', strides)
    const shape = conv2dShape(x.shape, filter.shape, [sh, sw], padding)
    const [n, h, w, c] = x.shape as [number, number, number, number]
    const [kh, kw, , co] = filter.shape as [number, number, number, number]
    const [, oh, ow] = shape as [number, number, number, number]
    const ph = convOutput(h, kh, sh, padding).padBefore
    const pw = convOutput(w, kw, sw, padding).padBefore
    const out = new Float64Array(sizeOf(shape))
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < oh; i++) {
        for (let j = 0; j < ow; j++) {
          for (let o = 0; o < co; o++) {
            let s = 0
            for (let di = 0; di < kh; di++) {
              const yi = i * sh + di - ph
              if (yi < 0 || yi >= h) continue
              for (let dj = 0; dj < kw; dj++) {
                const xj = j * sw + dj - pw
                if (xj < 0 || xj >= w) continue
                for (let q = 0; q < c; q++) {
                  s += vx[((b * h + yi) * w + xj) * c + q]! * vf[((di * kw + dj) * c + q) * co + o]!
                }
              }
            }
            out[((b * oh + i) * ow + j) * co + o] = s
          }
        }
      }
    }
    return make(out, shape, 'float32')
  },
  pool2d(x, kind, window, strides, padding) {
    const vx = vals(x, 'pool2d: x')
    const [sh, sw] = normalizeStrides('pool2d', strides)
    const shape = pool2dShape(x.shape, kind, window, [sh, sw], padding)
    const [kh, kw] = typeof window === 'number' ? [window, window] : window
    const [n, h, w, c] = x.shape as [number, number, number, number]
    const [, oh, ow] = shape as [number, number, number, number]
    const ph = convOutput(h, kh, sh, padding).padBefore
    const pw = convOutput(w, kw, sw, padding).padBefore
    const out = new Float64Array(sizeOf(shape))
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < oh; i++) {
        for (let j = 0; j < ow; j++) {
          for (let q = 0; q < c; q++) {
            let acc = kind === 'max' ? -Infinity : 0
            let count = 0
            for (let di = 0; di < kh; di++) {
              const yi = i * sh + di - ph
              if (yi < 0 || yi >= h) continue
              for (let dj = 0; dj < kw; dj++) {
                const xj = j * sw + dj - pw
                if (xj < 0 || xj >= w) continue
                const v = vx[((b * h + yi) * w + xj) * c + q]!
                acc = kind === 'max' ? Math.max(acc, v) : acc + v
                count++
              }
            }
            out[((b * oh + i) * ow + j) * c + q] = kind === 'max' ? acc : acc / count
          }
        }
      }
    }
    return make(out, shape, x.dtype)
  },

  clone(x) {
    return make(Float64Array.from(vals(x, 'clone: x')), x.shape, x.dtype)
  },
  dispose(x) {
    x.dispose()
  },
  isDisposed(x) {
    return x.isDisposed
  },
  tidy<R>(f: () => R): R {
    const scope = new Set<RefTensor>()
    scopes.push(scope)
    let result: R
    try {
      result = f()
    } catch (e) {
      for (const t of scope) if (!t.kept) t.dispose()
      throw e
    } finally {
      scopes.pop()
    }
    if (result instanceof Promise) {
      throw new InvalidArgumentError('tidy: f', 'must be synchronous; it returned a Promise')
    }
    const keep = reachable(result, new Set())
    const parent = scopes[scopes.length - 1]
    for (const t of scope) {
      if (keep.has(t)) parent?.add(t)
      else if (!t.kept) t.dispose()
    }
    return result
  },
  keep(x) {
    x.markKept()
    return x
  },
  liveTensors() {
    return live.size
  },
}
