/**
 * The fused ReLU gradient and 2×2 average pooling (forward and gradient) equal the composed tfjs
 * path, on shapes with odd sizes (dropped rows and columns) and channel counts off the SIMD width
 * (and, on webgpu, on the `vec4` width).
 */
import * as tf from '@tensorflow/tfjs-core'
import { expect } from 'vitest'
import { assertAllClose } from 'polyak/laws'
import { avgPool2x2 } from '../../src/kernels/activations.js'
import { useFusedKernels } from '../../src/kernels/registry.js'
import { registerGradients } from '../../src/nn/gradients.js'
import { describeEachBackend, itOn } from '../support/backends.js'

const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.61 + seed) * 2)
const read = (ts: tf.Tensor[]) => Promise.all(ts.map(async (t) => Array.from(await t.data())))

/** The loss's value and gradients, fused and composed. */
const bothWays = async (f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, weights: tf.Tensor) => {
  const loss = (xx: tf.Tensor) => tf.sum(tf.mul(f(xx), weights)) as tf.Scalar
  const run = async () => read([f(x), tf.grad(loss)(x)])
  const fused = await run()
  useFusedKernels(false)
  const composed = await run()
  useFusedKernels(true)
  return { fused, composed }
}

describeEachBackend(
  'fused activation and pooling kernels',
  (b) => {
    const it = itOn(b)
    for (const shape of [
      [3, 8, 6, 8],
      [2, 7, 9, 5],
      [1, 2, 3, 1],
      [2, 5, 7, 12], // odd sizes with channels in fours: the vec4 path's dropped row and column
    ] as const) {
      it(`2×2 average pooling of [${shape}] and its gradient equal the composed path`, async () => {
        registerGradients()
        const n = shape.reduce((p: number, d) => p * d, 1)
        const x = tf.tensor4d(values(n, 1), [...shape])
        const out = [shape[0], Math.floor(shape[1] / 2), Math.floor(shape[2] / 2), shape[3]]
        const weights = tf.tensor(
          values(
            out.reduce((p, d) => p * d, 1),
            2,
          ),
          out,
        )
        const { fused, composed } = await bothWays((t) => avgPool2x2(t as tf.Tensor4D), x, weights)
        assertAllClose(fused[0]!, composed[0]!, { rtol: 1e-6, atol: 1e-6, label: 'pooled' })
        assertAllClose(fused[1]!, composed[1]!, { rtol: 1e-6, atol: 1e-6, label: 'gradient' })
        expect(fused[1]!.filter((v) => v !== 0).length).toBe(out.reduce((p, d) => p * d, 1) * 4)
      })
    }

    // 1 027 elements: the scalar path; 1 028: the vec4 path on webgpu
    for (const size of [1027, 1028]) {
      it(`the ReLU gradient of ${size} elements equals the composed path, zero where x ≤ 0`, async () => {
        registerGradients()
        const x = tf.tensor(
          Float32Array.from(values(size, 3), (v, i) => (i % 7 === 0 ? 0 : v)),
          [size],
        )
        const { fused, composed } = await bothWays((t) => tf.relu(t), x, tf.tensor(values(size, 4), [size]))
        assertAllClose(fused[1]!, composed[1]!, { rtol: 0, atol: 0, label: 'gradient (±0 alike)' })
        const xs = await x.data()
        fused[1]!.forEach((g, i) => expect(g === 0).toBe(xs[i]! <= 0 || values(size, 4)[i] === 0))
      })
    }
  },
  ['cpu', 'wasm', 'webgpu'],
)
