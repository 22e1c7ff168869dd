/**
 * polyak's WGSL convolution (forward, filter and input gradient) equals tfjs's own kernels on webgpu, over
 * strides, paddings, filter sizes, channel counts with and without the `vec4` input path, and a batch
 * long enough that the filter gradient is summed over slices; a model's gradient through it equals
 * the same gradient with the fused kernels off. Where it does not run (other backends, output
 * channels not a multiple of 4), `conv2d` is tfjs's.
 */
import * as tf from '@tensorflow/tfjs-core'
import { expect } from 'vitest'
import { assertAllClose } from 'polyak/laws'
import { canConv, canConvFilterGrad, canConvInputGrad, conv2d, conv2dFilterGrad, conv2dInputGrad, convGeometry } from '../../src/kernels/conv.js'
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

    it('a conv net’s loss gradient through the program equals the one with the fused kernels off', async () => {
      registerGradients()
      const x = tensor([4, 10, 10, 4], 4) as tf.Tensor4D
      const w1 = tensor([3, 3, 4, 8], 5)
      const w2 = tensor([3, 3, 8, 4], 6)
      const loss = (a: tf.Tensor, c: tf.Tensor) =>
        tf.tidy(() => tf.sum(tf.square(conv2d(tf.relu(conv2d(x, a as tf.Tensor4D, [1, 1], 'same')), c as tf.Tensor4D, [2, 2], 'same'))) as tf.Scalar)
      const grads = async () =>
        Promise.all(
          tf
            .grads(loss)([w1, w2])
            .map(async (t) => Array.from(await t.data())),
        )
      const fused = await grads()
      useFusedKernels(false)
      const composed = await grads()
      useFusedKernels(true)
      assertAllClose(fused[0]!, composed[0]!, { rtol: 1e-4, atol: 1e-3, label: 'first filter' })
      assertAllClose(fused[1]!, composed[1]!, { rtol: 1e-4, atol: 1e-3, label: 'second filter' })
    })
  },
  ['webgpu'],
)

describeEachBackend(
  'polyak conv2d off webgpu',
  (b) => {
    itOn(b)('is tfjs’s conv2d (the program is webgpu’s)', async () => {
      const x = tensor([2, 5, 5, 3], 1) as tf.Tensor4D
      const f = tensor([3, 3, 3, 4], 2) as tf.Tensor4D
      expect(canConv(x, f.shape)).toBe(false)
      expect(Array.from(await conv2d(x, f, [1, 1], 'same').data())).toEqual(Array.from(await tf.conv2d(x, f, 1, 'same').data()))
    })
  },
  ['cpu', 'wasm'],
)
