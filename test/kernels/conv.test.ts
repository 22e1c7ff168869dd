/**
 * polyak's convolutions (forward, filter and input gradient): on webgpu the WGSL programs equal tfjs's
 * own kernels, over strides, paddings, filter sizes, channel counts with and without the `vec4` input
 * path, and a batch long enough that the filter gradient is summed over slices; on wasm (where tfjs
 * has no filter gradient to compare with) the SIMD programs equal a float64 loop over the definition,
 * over strides (also unequal ones), paddings (also TensorFlow's uneven 'same'), filter sizes, a last
 * group of fewer than 4 pixels, and every tap parity of the strided input gradient. On both, a
 * model's gradient through them equals the same gradient with the fused kernels off. Where they do
 * not run (cpu, channel counts they do not take), `conv2d` is tfjs's.
 */
import * as tf from '@tensorflow/tfjs-core'
import { expect } from 'vitest'
import { assertAllClose } from 'polyak/laws'
import {
  type ConvGeometry,
  canConv,
  canConvFilterGrad,
  canConvInputGrad,
  conv2d,
  conv2dFilterGrad,
  conv2dInputGrad,
  convGeometry,
} from '../../src/kernels/conv.js'
import { useFusedKernels } from '../../src/kernels/registry.js'
import { registerGradients } from '../../src/nn/gradients.js'
import { describeEachBackend, itOn } from '../support/backends.js'

const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed) * 1.5)
const tensor = (shape: number[], seed: number) =>
  tf.tensor(
    values(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  )

/** [n, h, w, ci, co, k, stride, pad]: every path of the two programs. */
const CASES: ReadonlyArray<readonly [number, number, number, number, number, number, number, 'same' | 'valid']> = [
  [2, 7, 9, 3, 8, 3, 1, 'same'], // scalar input channels, an odd width (a partial pixel block)
  [2, 8, 8, 5, 4, 3, 2, 'same'], // stride 2
  [3, 6, 5, 2, 8, 1, 1, 'valid'], // 1×1
  [2, 9, 9, 4, 12, 3, 2, 'valid'], // vec4 input channels, stride 2, valid
  [1, 5, 5, 1, 4, 5, 1, 'same'], // 5×5, one input channel
  [3, 7, 7, 12, 4, 3, 2, 'same'], // vec4 input channels, an odd size, stride 2
  [40, 4, 4, 4, 4, 3, 1, 'valid'], // few weights, a long batch: the filter gradient sums slices
  [2, 8, 8, 8, 12, 1, 2, 'valid'], // a strided 1×1 projection shortcut, as in a ResNet
  [2, 9, 9, 8, 8, 3, 2, 'same'], // stride 2 on an odd size, input gradient on every tap parity
]

/**
 * A three-layer conv net's filter gradients (stride 1, stride 1, stride 2: both kinds of input
 * gradient), with the fused kernels on and off, agree.
 */
const netGradientMatches = async (): Promise<void> => {
  registerGradients()
  const x = tensor([4, 10, 10, 4], 4) as tf.Tensor4D
  const weights = [tensor([3, 3, 4, 8], 5), tensor([3, 3, 8, 8], 6), tensor([3, 3, 8, 8], 7)]
  const layer = (h: tf.Tensor, w: tf.Tensor, s: number) => conv2d(h as tf.Tensor4D, w as tf.Tensor4D, [s, s], 'same')
  const loss = (a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
    tf.tidy(() => tf.sum(tf.square(layer(tf.relu(layer(tf.relu(layer(x, a, 1)), c, 1)), d, 2))) as tf.Scalar)
  const grads = async () =>
    Promise.all(
      tf
        .grads(loss)(weights)
        .map(async (t) => Array.from(await t.data())),
    )
  const fused = await grads()
  useFusedKernels(false)
  const composed = await grads()
  useFusedKernels(true)
  for (const [i, g] of fused.entries()) assertAllClose(g, composed[i]!, { rtol: 1e-4, atol: 1e-3, label: `filter ${i + 1}` })
}

describeEachBackend(
  'polyak conv2d',
  (b) => {
    const it = itOn(b)
    for (const [n, h, w, ci, co, k, s, pad] of CASES) {
      it(`[${n},${h},${w},${ci}]→${co}, ${k}×${k}, stride ${s}, ${pad}: forward and gradients equal tfjs's kernels`, async () => {
        const x = tensor([n, h, w, ci], 1) as tf.Tensor4D
        const f = tensor([k, k, ci, co], 2) as tf.Tensor4D
        expect(canConv(x, f.shape)).toBe(true)
        expect(canConvFilterGrad(x, f.shape)).toBe(true)
        const ours = conv2d(x, f, [s, s], pad)
        const theirs = tf.conv2d(x, f, s, pad)
        expect(ours.shape).toEqual(theirs.shape)
        assertAllClose(Array.from(await ours.data()), Array.from(await theirs.data()), { rtol: 1e-5, atol: 1e-5, label: 'forward' })
        const dy = tensor(theirs.shape, 3) as tf.Tensor4D
        const g = conv2dFilterGrad(x, dy, { ...convGeometry(x.shape, f.shape, [s, s], pad), filterShape: f.shape })
        const stock = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: [s, s], pad, dataFormat: 'NHWC', filterShape: f.shape }) as tf.Tensor
        expect(g.shape).toEqual(f.shape)
        assertAllClose(Array.from(await g.data()), Array.from(await stock.data()), { rtol: 1e-4, atol: 1e-4, label: 'filter gradient' })
        // the input gradient's program needs input channels in fours too
        expect(canConvInputGrad(dy, f.shape)).toBe(ci % 4 === 0)
        if (ci % 4 === 0) {
          const dx = conv2dInputGrad(dy, f, { ...convGeometry(x.shape, f.shape, [s, s], pad), inputShape: [n, h, w, ci] })
          const stockDx = tf
            .engine()
            .runKernel('Conv2DBackpropInput', { dy, filter: f }, { strides: [s, s], pad, dataFormat: 'NHWC', inputShape: [n, h, w, ci] }) as tf.Tensor
          expect(dx.shape).toEqual([n, h, w, ci])
          assertAllClose(Array.from(await dx.data()), Array.from(await stockDx.data()), { rtol: 1e-4, atol: 1e-4, label: 'input gradient' })
        }
      })
    }

    it('a conv net’s loss gradient through the program equals the one with the fused kernels off', netGradientMatches)
  },
  ['webgpu'],
)

/** The three convolutions by their definitions, in float64 (`x` outside the image is 0). */
const reference = (x: Float32Array, xs: readonly number[], f: Float32Array, fs: readonly number[], dy: Float32Array, g: ConvGeometry) => {
  const [n, h, w, ci] = xs as [number, number, number, number]
  const [kh, kw, , co] = fs as [number, number, number, number]
  const { oh, ow, sh, sw, top, left } = g
  const y = new Float64Array(n * oh * ow * co)
  const dw = new Float64Array(kh * kw * ci * co)
  const dx = new Float64Array(n * h * w * ci)
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let i = 0; i < kh; i++)
          for (let j = 0; j < kw; j++) {
            const iy = oy * sh + i - top
            const ix = ox * sw + j - left
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue
            for (let c = 0; c < ci; c++)
              for (let o = 0; o < co; o++) {
                const xi = ((b * h + iy) * w + ix) * ci + c
                const fi = ((i * kw + j) * ci + c) * co + o
                const yi = ((b * oh + oy) * ow + ox) * co + o
                y[yi]! += x[xi]! * f[fi]!
                dw[fi]! += x[xi]! * dy[yi]!
                dx[xi]! += dy[yi]! * f[fi]!
              }
          }
  return { y: Array.from(y), dw: Array.from(dw), dx: Array.from(dx) }
}

/** [n, h, w, ci, co, k, strides, pad] for the wasm programs (output channels in eights; the forward where input channels come in fours, else XNNPACK's). */
const WASM_CASES: ReadonlyArray<readonly [number, number, number, number, number, number, readonly [number, number], 'same' | 'valid']> = [
  [2, 7, 9, 4, 8, 3, [1, 1], 'same'], // 126 output pixels: a last group of 2
  [2, 8, 8, 8, 16, 3, [2, 2], 'same'], // stride 2, two output tiles
  [3, 6, 5, 8, 8, 1, [1, 1], 'valid'], // 1×1
  [2, 9, 9, 4, 8, 3, [2, 2], 'valid'], // stride 2, valid
  [1, 6, 6, 4, 8, 5, [1, 1], 'same'], // 5×5
  [3, 7, 7, 8, 8, 3, [2, 2], 'same'], // stride 2 on an odd size: the input gradient on every tap parity
  [2, 8, 8, 8, 16, 1, [2, 2], 'valid'], // a strided 1×1 projection shortcut, as in a ResNet
  [2, 5, 6, 16, 8, 2, [2, 2], 'same'], // an even filter: TensorFlow puts the odd padding pixel after
  [2, 6, 9, 8, 8, 3, [1, 2], 'same'], // unequal strides
  [1, 3, 3, 8, 8, 3, [2, 2], 'valid'], // one output pixel: a group of 4 with 3 missing
  [2, 6, 16, 4, 128, 3, [1, 1], 'same'], // 8 KiB of dy a row: the filter gradient's chunks of 2 rows split the images
  [2, 7, 9, 1, 8, 3, [1, 1], 'same'], // one input channel (a first layer): the filter gradient's one-channel tiles, odd runs
  [2, 8, 8, 3, 16, 3, [2, 2], 'same'], // three input channels (RGB), stride 2
  [2, 5, 6, 6, 8, 3, [1, 1], 'valid'], // six: a tile of four and two one-channel tiles
]

describeEachBackend(
  'polyak conv2d on wasm',
  (b) => {
    const it = itOn(b)
    for (const [n, h, w, ci, co, k, s, pad] of WASM_CASES) {
      it(`[${n},${h},${w},${ci}]→${co}, ${k}×${k}, strides ${s.join('×')}, ${pad}: forward and gradients equal the definition`, async () => {
        const x = tensor([n, h, w, ci], 1) as tf.Tensor4D
        const f = tensor([k, k, ci, co], 2) as tf.Tensor4D
        const g = convGeometry(x.shape, f.shape, s, pad)
        expect(canConv(x, f.shape)).toBe(ci % 4 === 0)
        expect(canConvFilterGrad(x, f.shape)).toBe(true)
        const dy = tensor([n, g.oh, g.ow, co], 3) as tf.Tensor4D
        expect(canConvInputGrad(dy, f.shape)).toBe(ci % 8 === 0)
        const want = reference(values(n * h * w * ci, 1), x.shape, values(k * k * ci * co, 2), f.shape, values(n * g.oh * g.ow * co, 3), g)
        const y = conv2d(x, f, s, pad)
        expect(y.shape).toEqual([n, g.oh, g.ow, co])
        assertAllClose(Array.from(await y.data()), want.y, { rtol: 1e-5, atol: 1e-5, label: 'forward' })
        const dw = conv2dFilterGrad(x, dy, { ...g, filterShape: f.shape })
        expect(dw.shape).toEqual(f.shape)
        assertAllClose(Array.from(await dw.data()), want.dw, { rtol: 1e-5, atol: 1e-4, label: 'filter gradient' })
        if (ci % 8 === 0) {
          const dx = conv2dInputGrad(dy, f, { ...g, inputShape: [n, h, w, ci] })
          expect(dx.shape).toEqual([n, h, w, ci])
          assertAllClose(Array.from(await dx.data()), want.dx, { rtol: 1e-5, atol: 1e-5, label: 'input gradient' })
        }
      })
    }

    it('channel counts outside the tiles stay on tfjs: output channels not in eights; a forward with fewer than 4 input channels', () => {
      const x3 = tensor([2, 5, 5, 3], 1)
      const x4 = tensor([2, 5, 5, 4], 1)
      expect(canConv(x3, [3, 3, 3, 8])).toBe(false)
      expect(canConv(x4, [3, 3, 4, 12])).toBe(false)
      expect(canConvFilterGrad(x3, [3, 3, 3, 8])).toBe(true)
      expect(canConvFilterGrad(x4, [3, 3, 4, 12])).toBe(false)
      expect(canConvInputGrad(tensor([2, 5, 5, 8], 1), [3, 3, 4, 8])).toBe(false)
      expect(canConv(x4, [3, 3, 4, 8])).toBe(true)
    })

    it('a conv net’s loss gradient through the programs equals the one with the fused kernels off', netGradientMatches)
  },
  ['wasm'],
)

describeEachBackend(
  'polyak conv2d where no program runs',
  (b) => {
    itOn(b)('is tfjs’s conv2d where no program takes it (none on cpu; on wasm, 4 output channels)', async () => {
      const x = tensor([2, 5, 5, 3], 1) as tf.Tensor4D
      const f = tensor([3, 3, 3, 4], 2) as tf.Tensor4D
      expect(canConv(x, f.shape)).toBe(false)
      expect(Array.from(await conv2d(x, f, [1, 1], 'same').data())).toEqual(Array.from(await tf.conv2d(x, f, 1, 'same').data()))
    })
  },
  ['cpu', 'wasm'],
)
