/**
 * Gradients for the tfjs kernels polyak's models use.
 *
 * tfjs-core's Node (CommonJS) bundle registers no gradient functions (the ESM build does, in
 * `register_all_gradients`), so `tf.grads` fails with "gradient function not found" in Node unless
 * someone registers them. `registerGradients()` does, for the kernels of polyak's layers and losses,
 * and only where none is registered yet (a user who imported the union package keeps tfjs's own).
 *
 * `Conv2D`'s filter gradient uses the backend's `Conv2DBackpropFilter` kernel when it has one and
 * otherwise a sum of shifted matrix products, `dW[i,j] = Σ_{n,y,x} X_pad[n, y·s+i, x·s+j]ᵀ·dY[n,y,x]`
 * (tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter`, so without this conv nets cannot train on wasm).
 *
 * @module nn/gradients
 */
import * as tf from '@tensorflow/tfjs-core'
import { convOutput } from '../core/ops.js'

type Saved = tf.Tensor[]
type Attrs = Record<string, unknown>
type GradFunc = (dy: tf.Tensor, saved: Saved, attrs: Attrs) => Record<string, () => tf.Tensor>

/** Sums `dy` over the axes along which `shape` was broadcast, and reshapes it to `shape`. */
const unbroadcast = (dy: tf.Tensor, shape: number[]): tf.Tensor => {
  const axes = tf.broadcast_util.getReductionAxes(shape, dy.shape)
  const summed = axes.length > 0 ? tf.sum(dy, axes) : dy
  return tf.reshape(summed, shape)
}

const axesOf = (x: tf.Tensor, axis: unknown): number[] => {
  const list = axis === undefined || axis === null ? x.shape.map((_, i) => i) : Array.isArray(axis) ? (axis as number[]) : [axis as number]
  return list.map((a) => (a < 0 ? a + x.rank : a))
}

/** dy of a reduction, broadcast back to the input's shape. */
const expandReduced = (dy: tf.Tensor, x: tf.Tensor, axes: number[]): tf.Tensor => {
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
  return tf.mul(tf.reshape(dy, kept), tf.ones(x.shape))
}

const convFilterGrad = (x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: [number, number, number, number], strides: [number, number], pad: 'same' | 'valid'): tf.Tensor => {
  if (tf.getKernel('Conv2DBackpropFilter', tf.getBackend()) !== undefined) {
    return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides, pad, dataFormat: 'NHWC', filterShape }) as tf.Tensor
  }
  const [kh, kw, ci, co] = filterShape
  const [n, h, w] = x.shape as [number, number, number, number]
  const [, oh, ow] = dy.shape as [number, number, number, number]
  const [sh, sw] = strides
  // TensorFlow's padding rule (core/ops convOutput): the extra pixel of an odd total goes after
  const rows = convOutput(h, kh, sh, pad)
  const cols = convOutput(w, kw, sw, pad)
  const padTop = rows.padBefore
  const padLeft = cols.padBefore
  const padBottom = pad === 'same' ? Math.max((oh - 1) * sh + kh - h, 0) - padTop : 0
  const padRight = pad === 'same' ? Math.max((ow - 1) * sw + kw - w, 0) - padLeft : 0
  const xp = padTop + padBottom + padLeft + padRight > 0 ? tf.pad(x, [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, 0]]) : x
  const dy2 = tf.reshape(dy, [n * oh * ow, co])
  const taps: tf.Tensor[] = []
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const window = tf.stridedSlice(xp, [0, i, j, 0], [n, i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1, ci], [1, sh, sw, 1])
      taps.push(tf.matMul(tf.reshape(window, [n * oh * ow, ci]), dy2, true, false))
    }
  }
  return tf.reshape(tf.stack(taps), filterShape)
}

const GRADIENTS: Record<string, { inputsToSave?: string[]; outputsToSave?: boolean[]; saveAllInputs?: boolean; gradFunc: GradFunc }> = {
  Add: { inputsToSave: ['a', 'b'], gradFunc: (dy, [a, b]) => ({ a: () => unbroadcast(dy, a!.shape), b: () => unbroadcast(dy, b!.shape) }) },
  Sub: { inputsToSave: ['a', 'b'], gradFunc: (dy, [a, b]) => ({ a: () => unbroadcast(dy, a!.shape), b: () => unbroadcast(tf.neg(dy), b!.shape) }) },
  Multiply: {
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]) => ({ a: () => unbroadcast(tf.mul(dy, tf.cast(b!, 'float32')), a!.shape), b: () => unbroadcast(tf.mul(dy, tf.cast(a!, 'float32')), b!.shape) }),
  },
  RealDiv: {
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]) => ({
      a: () => unbroadcast(tf.div(dy, b!), a!.shape),
      b: () => unbroadcast(tf.neg(tf.div(tf.mul(dy, a!), tf.square(b!))), b!.shape),
    }),
  },
  Neg: { gradFunc: (dy) => ({ x: () => tf.neg(dy) }) },
  Square: { inputsToSave: ['x'], gradFunc: (dy, [x]) => ({ x: () => tf.mul(dy, tf.mul(tf.cast(x!, 'float32'), tf.scalar(2))) }) },
  Sqrt: { inputsToSave: ['x'], gradFunc: (dy, [x]) => ({ x: () => tf.div(dy, tf.mul(tf.sqrt(tf.cast(x!, 'float32')), tf.scalar(2))) }) },
  Rsqrt: {
    inputsToSave: ['x'],
    gradFunc: (dy, [x]) => ({ x: () => tf.div(dy, tf.mul(tf.pow(x!, tf.scalar(1.5)), tf.scalar(-2))) }),
  },
  Relu: { inputsToSave: ['x'], gradFunc: (dy, [x]) => ({ x: () => tf.mul(dy, tf.cast(tf.greater(x!, 0), 'float32')) }) },
  Exp: { outputsToSave: [true], gradFunc: (dy, [y]) => ({ x: () => tf.mul(dy, y!) }) },
  Log: { inputsToSave: ['x'], gradFunc: (dy, [x]) => ({ x: () => tf.div(dy, tf.cast(x!, 'float32')) }) },
  Cast: { gradFunc: (dy) => ({ x: () => tf.clone(dy) }) },
  Identity: { gradFunc: (dy) => ({ x: () => tf.clone(dy) }) },
  Reshape: { inputsToSave: ['x'], gradFunc: (dy, [x]) => ({ x: () => tf.reshape(dy, x!.shape) }) },
  Transpose: {
    gradFunc: (dy, _s, attrs) => {
      const perm = attrs.perm as number[]
      const inverse = perm.map((_, i) => perm.indexOf(i))
      return { x: () => tf.transpose(dy, inverse) }
    },
  },
  Sum: { inputsToSave: ['x'], gradFunc: (dy, [x], attrs) => ({ x: () => expandReduced(dy, x!, axesOf(x!, attrs.axis)) }) },
  Mean: {
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const axes = axesOf(x!, attrs.axis)
      const n = axes.reduce((p, a) => p * x!.shape[a]!, 1)
      return { x: () => tf.div(expandReduced(dy, x!, axes), tf.scalar(n)) }
    },
  },
  BatchMatMul: {
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b], attrs) => {
      const ta = attrs.transposeA === true
      const tb = attrs.transposeB === true
      if (!ta && !tb) return { a: () => tf.matMul(dy, b!, false, true), b: () => tf.matMul(a!, dy, true, false) }
      if (!ta && tb) return { a: () => tf.matMul(dy, b!, false, false), b: () => tf.matMul(dy, a!, true, false) }
      if (ta && !tb) return { a: () => tf.matMul(b!, dy, false, true), b: () => tf.matMul(a!, dy, false, false) }
      return { a: () => tf.matMul(b!, dy, true, true), b: () => tf.matMul(dy, a!, true, true) }
    },
  },
  Conv2D: {
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, [x, filter], attrs) => {
      const s = attrs.strides as number | [number, number]
      const strides: [number, number] = typeof s === 'number' ? [s, s] : s
      const pad = attrs.pad as 'same' | 'valid'
      return {
        x: () =>
          tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: filter! }, { strides, pad, dataFormat: 'NHWC', inputShape: x!.shape }) as tf.Tensor,
        filter: () => convFilterGrad(x as tf.Tensor4D, dy as tf.Tensor4D, filter!.shape as [number, number, number, number], strides, pad),
      }
    },
  },
  Slice: {
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const begin = attrs.begin as number[]
      const paddings = x!.shape.map((d, i) => [begin[i]!, d - begin[i]! - dy.shape[i]!] as [number, number])
      return { x: () => tf.pad(dy, paddings) }
    },
  },
  Concat: {
    saveAllInputs: true,
    gradFunc: (dy, saved, attrs) => {
      const axis = (attrs.axis as number) < 0 ? (attrs.axis as number) + dy.rank : (attrs.axis as number)
      const parts = tf.split(dy, saved.map((t) => t.shape[axis]!), axis)
      return Object.fromEntries(parts.map((p, i) => [String(i), () => p]))
    },
  },
  Softmax: {
    outputsToSave: [true],
    gradFunc: (dy, [y], attrs) => {
      const dim = attrs.dim as number
      return { logits: () => tf.mul(tf.sub(dy, tf.sum(tf.mul(dy, y!), [dim], true)), y!) }
    },
  },
  PadV2: {
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const paddings = attrs.paddings as Array<[number, number]>
      return { x: () => tf.slice(dy, paddings.map((p) => p[0]), x!.shape) }
    },
  },
  Tile: {
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const reps = attrs.reps as number[]
      // view dy as [r0, d0, r1, d1, ...] and sum over the repetition axes
      const split = x!.shape.flatMap((d, i) => [reps[i]!, d])
      return { x: () => tf.sum(tf.reshape(dy, split), split.map((_, i) => i).filter((i) => i % 2 === 0)) }
    },
  },
}

let registered = false

/** Registers polyak's gradient functions for every kernel above that has none yet (idempotent). */
export const registerGradients = (): void => {
  if (registered) return
  registered = true
  for (const [kernelName, g] of Object.entries(GRADIENTS)) {
    if (tf.getGradient(kernelName) !== undefined) continue
    tf.registerGradient({ kernelName, ...g } as unknown as tf.GradConfig)
  }
}

/** The kernels `registerGradients` covers. */
export const GRADIENT_KERNELS: readonly string[] = Object.keys(GRADIENTS)
