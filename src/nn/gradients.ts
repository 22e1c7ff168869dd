/**
 * Gradients for the tfjs kernels polyak's models use.
 *
 * tfjs-core's Node (CommonJS) bundle registers no gradient functions (the ESM build does, in
 * `register_all_gradients`), so `tf.grads` fails with "gradient function not found" in Node unless
 * someone registers them. `registerGradients()` does, for the kernels of polyak's layers and losses,
 * and only where none is registered yet (a user who imported the union package keeps tfjs's own).
 *
 * `Conv2D`'s gradients run polyak's own convolution programs where they take the channels (webgpu
 * and wasm, `kernels/conv`); otherwise the filter gradient uses the backend's `Conv2DBackpropFilter`
 * kernel when it has one and else a sum of shifted matrix products,
 * `dW[i,j] = Σ_{n,y,x} X_pad[n, y·s+i, x·s+j]ᵀ·dY[n,y,x]` (tfjs-backend-wasm 4.22 has no
 * `Conv2DBackpropFilter`, so without this conv nets cannot train on wasm).
 *
 * @module nn/gradients
 */
import * as tf from '@tensorflow/tfjs-core'
import { reluGrad } from '../kernels/activations.js'
import { canConvFilterGrad, canConvInputGrad, conv2d, conv2dFilterGrad, conv2dInputGrad, convGeometry } from '../kernels/conv.js'
import { canIm2ColT, im2colT } from '../kernels/im2col.js'
import { KERNELS } from '../kernels/names.js'
import { matMulT } from '../kernels/matMul.js'

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

/**
 * The backends on which polyak's input-gradient program also serves stride 1: wasm (its flipped-filter
 * convolution would be XNNPACK's, and the filter flip a copy; the program reads `dy` through the
 * transposed window directly). On webgpu the forward program with the flipped filter is faster.
 */
const INPUT_GRAD_PROGRAM_AT_STRIDE_1: ReadonlySet<string> = new Set(['wasm'])

/**
 * ∂L/∂x of `conv2d(x, W)`: polyak's input-gradient program (`kernels/conv`) where it runs, at any
 * stride on the backends of `INPUT_GRAD_PROGRAM_AT_STRIDE_1`, strided only elsewhere. Otherwise,
 * stride 1: `dx = conv2d(pad(dy), flip(W)ᵀ, 'valid')`, where `flip` reverses both spatial axes and
 * `ᵀ` swaps the filter's in/out axes, and `dy` is padded by `k − 1 − before` in front and
 * `k − 1 − after` behind on each axis (the backend's forward convolution: on wasm XNNPACK's took
 * 14 ms against 127 ms for tfjs-wasm's Conv2DBackpropInput on a [64,14,14,64]·[3,3,32,64]
 * gradient). Other strides use the backend's Conv2DBackpropInput.
 */
const convInputGrad = (dy: tf.Tensor4D, filter: tf.Tensor4D, xShape: number[], strides: [number, number], pad: 'same' | 'valid'): tf.Tensor => {
  const strided = strides[0] !== 1 || strides[1] !== 1
  if ((strided || INPUT_GRAD_PROGRAM_AT_STRIDE_1.has(tf.getBackend())) && canConvInputGrad(dy, filter.shape))
    return conv2dInputGrad(dy, filter, { ...convGeometry(xShape, filter.shape, strides, pad), inputShape: xShape as [number, number, number, number] })
  if (strided) return tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, { strides, pad, dataFormat: 'NHWC', inputShape: xShape }) as tf.Tensor
  const [kh, kw] = filter.shape
  const p = convGeometry(xShape, filter.shape, strides, pad)
  const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D
  const [t, b, l, r] = [kh - 1 - p.top, kh - 1 - p.bottom, kw - 1 - p.left, kw - 1 - p.right]
  // a symmetric pad of (k − 1)/2 is what 'same' does for an odd kernel: skip the copy
  if (kh % 2 === 1 && kw % 2 === 1 && t === (kh - 1) / 2 && b === t && l === (kw - 1) / 2 && r === l) return conv2d(dy, flipped, [1, 1], 'same')
  return conv2d(
    tf.pad(dy, [
      [0, 0],
      [t, b],
      [l, r],
      [0, 0],
    ]),
    flipped,
    [1, 1],
    'valid',
  )
}

/**
 * Where the im2col filter gradient beats the backend's own: on webgpu from 32 input channels. tfjs-webgpu's
 * Conv2DBackpropFilter computes each weight by a loop over every output position; the matrix product
 * parallelises better once the im2col rows are long enough. Measured on Mesa lavapipe, 3×3 filters,
 * batch 64, forward-pass shapes of polyak's nets (stock / im2col, ms): [28,28,1]→32 31 / 68,
 * [32,32,16]→16 281 / 450, [14,14,32]→64 553 / 233, [8,8,64]→64 305 / 149.
 */
const IM2COL_FROM_CHANNELS: Readonly<Record<string, number>> = { webgpu: 32 }

/**
 * ∂L/∂W of `conv2d(x, W)`: polyak's own program where it runs (webgpu, wasm: `kernels/conv`); else the
 * backend's Conv2DBackpropFilter where it has one (and `IM2COL_FROM_CHANNELS` does not say
 * otherwise); otherwise by im2col,
 * `dW[(i,j,c), o] = Σ_p cols[(i,j,c), p]·dy[p, o]`, one matrix product, with `cols` from polyak's
 * `im2colT` kernel where registered, else from the `kh·kw` shifted windows of the padded input
 * concatenated along channels (`(dyᵀ·colsᵀ)ᵀ`).
 */
const convFilterGrad = (
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: [number, number],
  pad: 'same' | 'valid',
): tf.Tensor => {
  const g = convGeometry(x.shape, filterShape, strides, pad)
  if (canConvFilterGrad(x, filterShape)) return conv2dFilterGrad(x, dy, { ...g, filterShape })
  const backend = tf.getBackend()
  const im2colFrom = IM2COL_FROM_CHANNELS[backend]
  if (tf.getKernel('Conv2DBackpropFilter', backend) !== undefined && (im2colFrom === undefined || filterShape[2] < im2colFrom)) {
    return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides, pad, dataFormat: 'NHWC', filterShape }) as tf.Tensor
  }
  const [kh, kw, ci, co] = filterShape
  const n = x.shape[0]
  const { oh, ow, top, bottom, left, right } = g
  const [sh, sw] = strides
  if (canIm2ColT(x)) {
    const cols = im2colT(x, { kh, kw, sh, sw, top, left, oh, ow })
    return tf.reshape(matMulT(cols, tf.reshape(dy, [n * oh * ow, co]), false, false), filterShape)
  }
  const xp =
    top + bottom + left + right > 0
      ? tf.pad(x, [
          [0, 0],
          [top, bottom],
          [left, right],
          [0, 0],
        ])
      : x
  const windows: tf.Tensor[] = []
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      windows.push(tf.stridedSlice(xp, [0, i, j, 0], [n, i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1, ci], [1, sh, sw, 1]))
    }
  }
  const cols = tf.reshape(windows.length === 1 ? windows[0]! : tf.concat(windows, 3), [n * oh * ow, kh * kw * ci])
  const dyT = tf.transpose(tf.reshape(dy, [n * oh * ow, co]))
  return tf.reshape(tf.transpose(tf.matMul(dyT as tf.Tensor2D, cols as tf.Tensor2D)), filterShape)
}

/** Both gradients of `conv2d(x, filter, strides, pad)` given `dy`. */
const convGradients = (dy: tf.Tensor, x: tf.Tensor, filter: tf.Tensor, strides: [number, number], pad: 'same' | 'valid'): Record<string, () => tf.Tensor> => ({
  x: () => convInputGrad(dy as tf.Tensor4D, filter as tf.Tensor4D, x.shape, strides, pad),
  filter: () => convFilterGrad(x as tf.Tensor4D, dy as tf.Tensor4D, filter.shape as [number, number, number, number], strides, pad),
})

const GRADIENTS: Record<string, { inputsToSave?: string[]; outputsToSave?: boolean[]; saveAllInputs?: boolean; gradFunc: GradFunc }> = {
  Add: { inputsToSave: ['a', 'b'], gradFunc: (dy, [a, b]) => ({ a: () => unbroadcast(dy, a!.shape), b: () => unbroadcast(dy, b!.shape) }) },
  Sub: { inputsToSave: ['a', 'b'], gradFunc: (dy, [a, b]) => ({ a: () => unbroadcast(dy, a!.shape), b: () => unbroadcast(tf.neg(dy), b!.shape) }) },
  Multiply: {
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]) => ({
      a: () => unbroadcast(tf.mul(dy, tf.cast(b!, 'float32')), a!.shape),
      b: () => unbroadcast(tf.mul(dy, tf.cast(a!, 'float32')), b!.shape),
    }),
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
  Relu: { inputsToSave: ['x'], gradFunc: (dy, [x]) => ({ x: () => reluGrad(dy, x!) }) },
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
      if (!ta && !tb) return { a: () => matMulT(dy, b!, false, true), b: () => matMulT(a!, dy, true, false) }
      if (!ta && tb) return { a: () => matMulT(dy, b!, false, false), b: () => matMulT(dy, a!, true, false) }
      if (ta && !tb) return { a: () => matMulT(b!, dy, false, true), b: () => matMulT(a!, dy, false, false) }
      return { a: () => matMulT(b!, dy, true, true), b: () => matMulT(dy, a!, true, true) }
    },
  },
  Conv2D: {
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, [x, filter], attrs) => {
      const s = attrs.strides as number | [number, number]
      return convGradients(dy, x!, filter!, typeof s === 'number' ? [s, s] : s, attrs.pad as 'same' | 'valid')
    },
  },
  // polyak's own convolution (kernels/conv) keeps its strides as sh, sw among its geometry
  [KERNELS.conv2d]: {
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, [x, filter], attrs) => convGradients(dy, x!, filter!, [attrs.sh as number, attrs.sw as number], attrs.pad as 'same' | 'valid'),
  },
  MaxPool: {
    inputsToSave: ['x'],
    outputsToSave: [true],
    gradFunc: (dy, [x, y], attrs) => ({
      x: () => tf.engine().runKernel('MaxPoolGrad', { dy, input: x!, output: y! }, attrs as tf.NamedAttrMap) as tf.Tensor,
    }),
  },
  AvgPool: {
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => ({
      x: () => tf.engine().runKernel('AvgPoolGrad', { dy, input: x! }, attrs as tf.NamedAttrMap) as tf.Tensor,
    }),
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
      const parts = tf.split(
        dy,
        saved.map((t) => t.shape[axis]!),
        axis,
      )
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
      return {
        x: () =>
          tf.slice(
            dy,
            paddings.map((p) => p[0]),
            x!.shape,
          ),
      }
    },
  },
  Tile: {
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const reps = attrs.reps as number[]
      // dx = dy summed over the repetitions, one tiled axis at a time: view dy as
      // [before, r, d, after] (rank 4 on every backend; webgpu's kernels stop at rank 6) and sum axis 1
      return {
        x: () => {
          let g = dy
          x!.shape.forEach((d, i) => {
            const r = reps[i]!
            if (r === 1) return
            const before = g.shape.slice(0, i).reduce((a, b) => a * b, 1)
            const after = g.shape.slice(i + 1).reduce((a, b) => a * b, 1)
            const shape = [...g.shape]
            shape[i] = d
            g = tf.reshape(tf.sum(tf.reshape(g, [before, r, d, after]), 1), shape)
          })
          return tf.reshape(g, x!.shape)
        },
      }
    },
  },
}

let registered = false
let conv2dGradient: tf.GradConfig | undefined

/**
 * Registers polyak's gradient functions for every kernel above that has none yet (idempotent), and
 * polyak's `Conv2D` gradient in any case: it runs the backend's `Conv2DBackpropFilter` where there
 * is one and the composed path where there is not (wasm), so a tfjs gradient registered first (by
 * tfjs-layers or the union package, which need that kernel) does not leave wasm unable to train.
 */
export const registerGradients = (): void => {
  if (!registered) {
    registered = true
    for (const [kernelName, g] of Object.entries(GRADIENTS)) {
      const config = { kernelName, ...g } as tf.GradConfig
      if (kernelName === 'Conv2D') conv2dGradient = config
      else if (tf.getGradient(kernelName) !== undefined) continue
      tf.registerGradient(config)
    }
  }
  if (tf.getGradient('Conv2D') !== conv2dGradient) tf.registerGradient(conv2dGradient!)
}
