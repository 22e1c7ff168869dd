/**
 * The TensorFlow.js interpreter of the DSL: every primitive of `Ops` as `@tensorflow/tfjs-core`
 * ops, so it runs on whichever tfjs backend is active (cpu, wasm, webgpu, tensorflow).
 *
 * Arguments are checked before tfjs sees them, so a disposed tensor or a shape that does not
 * broadcast gives an error naming the primitive and the argument (tfjs's own messages name neither).
 * Composite primitives run inside `tf.tidy`, so no intermediate (scalar weights included) leaks
 * even when the caller is outside a scope.
 *
 * @module core/tfOps
 */
import * as tf from '@tensorflow/tfjs-core'
import { canFuseAxpby, fusedAxpby } from '../kernels/axpby.js'
import { canFuseAxpbyMany, fusedAxpbyMany } from '../kernels/axpbyMany.js'
import {
  type ChannelLayout,
  canFuseMoments,
  canFuseNormalize,
  canFuseStandardize,
  fusedMoments,
  fusedNormalize,
  fusedStandardize,
  layoutOf,
  statsBroadcastShape,
} from '../kernels/channels.js'
import { avgPool2x2 } from '../kernels/activations.js'
import { matMulT } from '../kernels/matMul.js'
import { conv2d } from '../kernels/conv.js'
import { DisposedTensorError, InvalidArgumentError, PolyakError, ShapeMismatchError, showShape } from './errors.js'
import {
  type MomentsOptions,
  type Ops,
  type TensorData,
  broadcastShapes,
  checkShape,
  checkUnbiasedCount,
  concatShape,
  conv2dShape,
  matMulShape,
  pool2dShape,
  checkAxpbyMany,
  checkStandardize,
  composedAxpbyMany,
  composedStandardize,
  normalizeAxes,
  normalizePerm,
  normalizeStrides,
  reductionCount,
  resolveReshape,
  resolveSlice,
  sizeOf,
} from './ops.js'

/** The tensor type of `tfOps`. */
export type Tensor = tf.Tensor

const check = (x: tf.Tensor, where: string): tf.Tensor => {
  if (!(x instanceof tf.Tensor)) {
    throw new InvalidArgumentError(
      where,
      `expected a tf.Tensor, got ${x === null ? 'null' : typeof x === 'object' ? ((x as object).constructor?.name ?? 'object') : typeof x}`,
    )
  }
  if (x.isDisposed) throw new DisposedTensorError(where)
  return x
}

const checkNumber = (where: string, v: number): number => {
  if (typeof v !== 'number' || Number.isNaN(v)) throw new InvalidArgumentError(where, `must be a number, got ${String(v)}`)
  return v
}

/** `axpby`'s checks (and `axpbyMany`'s, pair by pair): two live tensors of broadcasting shapes, two numbers. */
const checkAxpby = (alpha: number, x: tf.Tensor, beta: number, y: tf.Tensor): void => {
  check(x, 'axpby: x')
  check(y, 'axpby: y')
  checkNumber('axpby: alpha', alpha)
  checkNumber('axpby: beta', beta)
  broadcastShapes('axpby', x.shape, y.shape)
}

const binary =
  (op: string, f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) =>
  (a: tf.Tensor, b: tf.Tensor): tf.Tensor => {
    check(a, `${op}: a`)
    check(b, `${op}: b`)
    broadcastShapes(op, a.shape, b.shape)
    return f(a, b)
  }

const unary =
  (op: string, f: (x: tf.Tensor) => tf.Tensor) =>
  (x: tf.Tensor): tf.Tensor =>
    f(check(x, `${op}: x`))

/** A per-statistic coefficient as the fused kernels take it: broadcast to `full` (the statistics' kept-dims shape) where it is not already, then flat `[G·C]`. */
const flatCoefficient = (t: tf.Tensor, full: readonly number[]): tf.Tensor =>
  tf.reshape(t.shape.length === full.length && t.shape.every((d, i) => d === full[i]) ? t : tf.broadcastTo(t, [...full]), [-1])

const axesArg = (op: string, x: tf.Tensor, axes: number | readonly number[] | undefined): number[] => normalizeAxes(op, x.rank, axes)

/**
 * The layout (`kernels/channels`) of coefficients that broadcast against `x`: the axes where any of
 * them is not 1 must be a prefix of groups plus one channel axis, each matching `x`; else `undefined`.
 */
const coefficientLayout = (x: readonly number[], shapes: ReadonlyArray<readonly number[]>): ChannelLayout | undefined => {
  if (shapes.some((s) => s.length > x.length)) return undefined
  const padded = shapes.map((s) => [...Array<number>(x.length - s.length).fill(1), ...s])
  const varying = x.map((_, i) => i).filter((i) => padded.some((s) => s[i] !== 1))
  if (varying.some((i) => padded.some((s) => s[i] !== 1 && s[i] !== x[i]))) return undefined
  return layoutOf(varying)
}

/**
 * The TensorFlow.js interpreter (runs on the active tfjs backend; select one with `useBackend`).
 *
 * @example
 * const y = tfOps.axpby(0.9, tfOps.tensor([1, 2], [2]), 0.1, tfOps.tensor([3, 4], [2])) // [1.2, 2.2]
 */
export const tfOps: Ops<tf.Tensor> = {
  get name() {
    return `tfjs:${tf.getBackend() ?? 'none'}`
  },

  tensor(data, shape, dtype = 'float32') {
    checkShape('tensor: shape', shape)
    if (data.length !== sizeOf(shape)) {
      throw new ShapeMismatchError('tensor: data', `${data.length} values do not fill shape ${showShape(shape)} (${sizeOf(shape)} elements)`)
    }
    const typed = dtype === 'int32' ? Int32Array.from(data, (v) => Math.trunc(v)) : Float32Array.from(data)
    return tf.tensor(typed, [...shape], dtype)
  },
  scalar(value, dtype = 'float32') {
    return tf.scalar(value, dtype)
  },
  fill(shape, value, dtype = 'float32') {
    checkShape('fill: shape', shape)
    return tf.fill([...shape], value, dtype)
  },
  zeros(shape, dtype = 'float32') {
    checkShape('zeros: shape', shape)
    return tf.zeros([...shape], dtype)
  },
  ones(shape, dtype = 'float32') {
    checkShape('ones: shape', shape)
    return tf.ones([...shape], dtype)
  },

  async read(x) {
    return (await check(x, 'read: x').data()) as TensorData
  },
  readSync(x) {
    check(x, 'read: x')
    try {
      return x.dataSync() as TensorData
    } catch (e) {
      throw new PolyakError(
        'INVALID_ARGUMENT',
        `readSync is not supported by the '${tf.getBackend()}' backend (${(e as Error).message}); use await ops.read(x)`,
        'readSync: x',
      )
    }
  },

  add: binary('add', (a, b) => tf.add(a, b)),
  sub: binary('sub', (a, b) => tf.sub(a, b)),
  mul: binary('mul', (a, b) => tf.mul(a, b)),
  div: binary('div', (a, b) => tf.div(a, b)),
  maximum: binary('maximum', (a, b) => tf.maximum(a, b)),
  minimum: binary('minimum', (a, b) => tf.minimum(a, b)),
  neg: unary('neg', (x) => tf.neg(x)),
  abs: unary('abs', (x) => tf.abs(x)),
  square: unary('square', (x) => tf.square(x)),
  sqrt: unary('sqrt', (x) => tf.sqrt(x)),
  rsqrt: unary('rsqrt', (x) => tf.rsqrt(x)),
  exp: unary('exp', (x) => tf.exp(x)),
  log: unary('log', (x) => tf.log(x)),
  relu: unary('relu', (x) => tf.relu(x)),
  scale(x, s) {
    check(x, 'scale: x')
    checkNumber('scale: s', s)
    return tf.tidy(() => tf.mul(tf.cast(x, 'float32'), tf.scalar(s)))
  },
  shift(x, s) {
    check(x, 'shift: x')
    checkNumber('shift: s', s)
    return tf.tidy(() => tf.add(tf.cast(x, 'float32'), tf.scalar(s)))
  },
  axpby(alpha, x, beta, y, options = {}) {
    checkAxpby(alpha, x, beta, y)
    // donation: tfjs's program runner cannot bind x as both input and output, so on webgpu (the one
    // backend with the multi-tensor kernel) the in-place write goes through that kernel
    if (options.donate === true && canFuseAxpbyMany([x], [y])) return fusedAxpbyMany(alpha, [x], beta, [y], true)[0]!
    if (canFuseAxpby(x, y)) return fusedAxpby(alpha, x, beta, y, options.donate === true)
    return tf.tidy(() => tf.add(tf.mul(tf.cast(x, 'float32'), tf.scalar(alpha)), tf.mul(tf.cast(y, 'float32'), tf.scalar(beta))))
  },
  axpbyMany(alpha, xs, beta, ys, options = {}) {
    checkAxpbyMany(xs, ys)
    // every pair is checked before anything runs, so a bad pair fails with no donated x written
    xs.forEach((x, i) => checkAxpby(alpha, x, beta, ys[i]!))
    if (canFuseAxpbyMany(xs, ys)) return fusedAxpbyMany(alpha, xs, beta, ys, options.donate === true)
    return composedAxpbyMany(tfOps, alpha, xs, beta, ys, options)
  },
  normalize(x, center, scale, offset) {
    check(x, 'normalize: x')
    check(center, 'normalize: center')
    check(scale, 'normalize: scale')
    check(offset, 'normalize: offset')
    const shape = [center, scale, offset].reduce<readonly number[]>((sh, t) => broadcastShapes('normalize', sh, t.shape), x.shape)
    const layout = coefficientLayout(x.shape, [center.shape, scale.shape, offset.shape])
    if (layout !== undefined && shape.length === x.rank && canFuseNormalize(x, [center, scale, offset])) {
      const full = statsBroadcastShape(x.shape, layout)
      return tf.tidy(() => fusedNormalize(x, flatCoefficient(center, full), flatCoefficient(scale, full), flatCoefficient(offset, full), layout))
    }
    return tf.tidy(() => tf.add(tf.mul(tf.sub(x, center), scale), offset))
  },
  cast(x, dtype) {
    return tf.cast(check(x, 'cast: x'), dtype)
  },

  sum(x, axes, keepDims = false) {
    check(x, 'sum: x')
    return tf.sum(x, axesArg('sum', x, axes), keepDims)
  },
  mean(x, axes, keepDims = false) {
    check(x, 'mean: x')
    const ax = axesArg('mean', x, axes)
    return x.dtype === 'float32' ? tf.mean(x, ax, keepDims) : tf.tidy(() => tf.mean(tf.cast(x, 'float32'), ax, keepDims))
  },
  max(x, axes, keepDims = false) {
    check(x, 'max: x')
    return tf.max(x, axesArg('max', x, axes), keepDims)
  },
  min(x, axes, keepDims = false) {
    check(x, 'min: x')
    return tf.min(x, axesArg('min', x, axes), keepDims)
  },
  moments(x, axes, options: MomentsOptions = {}) {
    check(x, 'moments: x')
    const ax = axesArg('moments', x, axes)
    const keepDims = options.keepDims ?? false
    const n = reductionCount(x.shape, ax)
    if (options.estimator === 'unbiased') checkUnbiasedCount('moments', n)
    // per channel (or per group and channel): one fused two-pass kernel where the backend has it
    const kept = x.shape.map((_, i) => i).filter((i) => !ax.includes(i))
    const layout = layoutOf(kept)
    if (layout !== undefined && canFuseMoments(x, layout)) {
      return tf.tidy(() => {
        const [mean, variance] = fusedMoments(x, layout)
        const out = keepDims ? statsBroadcastShape(x.shape, layout) : kept.map((k) => x.shape[k]!)
        const v = options.estimator === 'unbiased' ? tf.mul(variance, tf.scalar(n / (n - 1))) : variance
        return { mean: tf.reshape(mean, out), variance: tf.reshape(v, out) }
      })
    }
    return tf.tidy(() => {
      const xf = tf.cast(x, 'float32')
      const mean = tf.mean(xf, ax, true)
      const variance = tf.mean(tf.square(tf.sub(xf, mean)), ax, keepDims)
      const v = options.estimator === 'unbiased' ? tf.mul(variance, tf.scalar(n / (n - 1))) : variance
      return { mean: keepDims ? mean : tf.squeeze(mean, ax), variance: v }
    })
  },

  standardize(x, axes, scale, epsilon) {
    check(x, 'standardize: x')
    check(scale, 'standardize: scale')
    const ax = checkStandardize(x.shape, axes, scale.shape, epsilon)
    const layout = layoutOf(x.shape.map((_, i) => i).filter((i) => !ax.includes(i)))
    if (layout !== undefined && canFuseStandardize(x, scale, layout)) {
      return tf.tidy(() => fusedStandardize(x, flatCoefficient(scale, statsBroadcastShape(x.shape, layout)), layout, epsilon))
    }
    return composedStandardize(tfOps, x, ax, scale, epsilon)
  },

  reshape(x, shape) {
    check(x, 'reshape: x')
    return tf.reshape(x, resolveReshape('reshape', x.shape, shape))
  },
  transpose(x, perm) {
    check(x, 'transpose: x')
    return tf.transpose(x, normalizePerm('transpose', x.rank, perm))
  },
  broadcastTo(x, shape) {
    check(x, 'broadcastTo: x')
    checkShape('broadcastTo: shape', shape)
    const target = broadcastShapes('broadcastTo', x.shape, shape)
    if (target.length !== shape.length || target.some((d, i) => d !== shape[i])) {
      throw new ShapeMismatchError('broadcastTo', `cannot broadcast ${showShape(x.shape)} to ${showShape(shape)}`)
    }
    return tf.broadcastTo(x, [...shape])
  },
  concat(xs, axis) {
    xs.forEach((x, k) => check(x, `concat: xs[${k}]`))
    const { axis: ax } = concatShape(
      xs.map((x) => x.shape),
      axis,
    )
    return xs.length === 1 ? tf.clone(xs[0]!) : tf.concat([...xs], ax)
  },
  slice(x, begin, size) {
    check(x, 'slice: x')
    const s = resolveSlice(x.shape, begin, size)
    return tf.slice(x, [...begin], s)
  },

  matMul(a, b, transposeA = false, transposeB = false) {
    check(a, 'matMul: a')
    check(b, 'matMul: b')
    matMulShape(a.shape, b.shape, transposeA, transposeB)
    return matMulT(a, b, transposeA, transposeB)
  },
  conv2d(x, filter, strides, padding) {
    check(x, 'conv2d: x')
    check(filter, 'conv2d: filter')
    const s = normalizeStrides('conv2d', strides)
    conv2dShape(x.shape, filter.shape, s, padding)
    return conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, s, padding)
  },
  pool2d(x, kind, window, strides, padding) {
    check(x, 'pool2d: x')
    const s = normalizeStrides('pool2d', strides)
    pool2dShape(x.shape, kind, window, s, padding)
    const k: [number, number] = typeof window === 'number' ? [window, window] : [window[0], window[1]]
    const x4 = x as tf.Tensor4D
    // 2×2 average pooling with stride 2 is the conv nets' pooling: polyak's fused kernel where registered
    if (kind === 'avg' && k[0] === 2 && k[1] === 2 && s[0] === 2 && s[1] === 2 && padding === 'valid') return avgPool2x2(x4)
    return kind === 'max' ? tf.maxPool(x4, k, s, padding) : tf.avgPool(x4, k, s, padding)
  },

  clone(x) {
    return tf.clone(check(x, 'clone: x'))
  },
  dispose(x) {
    if (!x.isDisposed) tf.dispose(x)
  },
  isDisposed(x) {
    return x.isDisposed
  },
  tidy<R>(f: () => R): R {
    return tf.tidy(() => {
      const r = f()
      if (r instanceof Promise) throw new InvalidArgumentError('tidy: f', 'must be synchronous; it returned a Promise')
      return r as tf.TensorContainer
    }) as R
  },
  keep(x) {
    return tf.keep(check(x, 'keep: x'))
  },
  liveTensors() {
    return tf.memory().numTensors
  },
}
