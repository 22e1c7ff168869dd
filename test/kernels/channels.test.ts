/**
 * The fused per-channel kernels (moments, normalize and its gradient) against the Float64 reference
 * and against the composed tfjs path, on shapes large enough to cross the kernels' float32 blocks,
 * with channel counts that are not multiples of the SIMD width, in both layouts (channels last,
 * `B = 1`; channels first, `B > 1`).
 */
import * as tf from '@tensorflow/tfjs-core'
import { expect } from 'vitest'
import { referenceOps, tfOps } from 'polyak'
import { assertAllClose } from 'polyak/laws'
import { useFusedKernels } from '../../src/kernels/registry.js'
import { registerGradients } from '../../src/nn/gradients.js'
import { describeEachBackend, itOn } from '../support/backends.js'

const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.731 + seed) * 3 + Math.cos(i * 0.017) + 2)

// `kept`: the axes the statistics are per (a prefix of groups plus one channel axis)
const CASES = [
  { shape: [70, 5, 3, 7], kept: [3] }, // channels last, 1 050 rows, C = 7
  { shape: [3, 5, 4, 33], kept: [3] }, // C = 33: SIMD body and scalar tail
  { shape: [6, 4, 17, 19], kept: [0] }, // channels first (OIHW), runs of 1 292
  { shape: [2, 9, 300], kept: [1] }, // [A, C, B] with A > 1
  { shape: [2, 300, 9], kept: [0, 2] }, // per view and channel (Momentum BN)
  { shape: [3, 40, 4, 5], kept: [0, 2] }, // per sample and group (GroupNorm), runs of 5
  { shape: [64, 16, 16, 48], kept: [3] }, // 16 384 values per channel: many workgroups per statistic on webgpu
  { shape: [8, 40, 40, 3], kept: [0] }, // channels first with 4 800 values each: several chunks of one channel
] as const

// weight layouts for the per-filter standardisation: OIHW (filters first), HWIO (filters last), and per group
const STANDARDIZE_CASES = [
  { shape: [24, 7, 3, 3], kept: [0] },
  { shape: [3, 3, 50, 37], kept: [3] },
  { shape: [1, 1, 512, 6], kept: [3] },
  { shape: [2, 30, 5], kept: [0, 2] },
] as const

describeEachBackend(
  'fused per-channel kernels',
  (b) => {
    const it = itOn(b)
    for (const { shape, kept } of CASES) {
      const n = shape.reduce((p: number, d) => p * d, 1)
      const axes = shape.map((_, i) => i).filter((i) => !(kept as readonly number[]).includes(i))
      const coef: number[] = shape.map((d, i) => ((kept as readonly number[]).includes(i) ? d : 1))
      const c = coef.reduce((p: number, d) => p * d, 1)

      it(`moments and normalize of [${shape}] per axes [${kept}] match the reference`, async (ops) => {
        const xs = values(n, 1)
        const x = ops.tensor(xs, shape)
        const m = ops.moments(x, axes, { keepDims: true, estimator: 'unbiased' })
        const xr = referenceOps.tensor(xs, shape)
        const mr = referenceOps.moments(xr, axes, { keepDims: true, estimator: 'unbiased' })
        assertAllClose(await ops.read(m.mean), referenceOps.readSync(mr.mean), { rtol: 1e-6, atol: 1e-6, label: 'mean' })
        assertAllClose(await ops.read(m.variance), referenceOps.readSync(mr.variance), { rtol: 1e-5, atol: 1e-6, label: 'variance' })
        const [center, scale, offset] = [values(c, 2), values(c, 3), values(c, 4)]
        const y = ops.normalize(x, ops.tensor(center, coef), ops.tensor(scale, coef), ops.tensor(offset, coef))
        const yr = referenceOps.normalize(xr, referenceOps.tensor(center, coef), referenceOps.tensor(scale, coef), referenceOps.tensor(offset, coef))
        assertAllClose(await ops.read(y), referenceOps.readSync(yr), { rtol: 1e-6, atol: 1e-5, label: 'normalize' })
      })

      it(`gradients through moments and normalize of [${shape}] per axes [${kept}] equal the composed path's`, async () => {
        registerGradients()
        const x = tf.tensor(values(n, 5), [...shape])
        const gamma = tf.tensor(values(c, 6), coef)
        const beta = tf.tensor(values(c, 7), coef)
        const weights = tf.tensor(values(n, 8), [...shape])
        // a BatchNorm-like loss: every input of both kernels is on the gradient path
        const loss = (xx: tf.Tensor, g: tf.Tensor, bb: tf.Tensor) => {
          const mom = tfOps.moments(xx, axes, { keepDims: true })
          const y = tfOps.normalize(xx, mom.mean, tf.mul(g, tf.rsqrt(tf.add(mom.variance, 1e-5))), bb)
          return tf.sum(tf.mul(y, weights)) as tf.Scalar
        }
        const read = (ts: tf.Tensor[]) => Promise.all(ts.map(async (t) => Array.from(await t.data())))
        const fused = await read(tf.grads(loss)([x, gamma, beta]))
        useFusedKernels(false)
        const composed = await read(tf.grads(loss)([x, gamma, beta]))
        useFusedKernels(true)
        const names = ['x', 'gamma', 'beta']
        fused.forEach((g, i) => {
          const scale = composed[i]!.reduce((m, v) => Math.max(m, Math.abs(v)), 0)
          assertAllClose(g, composed[i]!, { rtol: 1e-3, atol: 1e-4 * scale, label: `d/d${names[i]}` })
        })
        expect(fused[0]!.some((v) => v !== 0)).toBe(true)
      })
    }
    for (const { shape, kept } of STANDARDIZE_CASES) {
      const n = shape.reduce((p: number, d) => p * d, 1)
      const axes = shape.map((_, i) => i).filter((i) => !(kept as readonly number[]).includes(i))
      const coef: number[] = shape.map((d, i) => ((kept as readonly number[]).includes(i) ? d : 1))
      const c = coef.reduce((p: number, d) => p * d, 1)

      it(`standardize of [${shape}] per axes [${kept}] matches the reference`, async (ops) => {
        const xs = values(n, 9)
        const scale = values(c, 10)
        const y = ops.standardize(ops.tensor(xs, shape), axes, ops.tensor(scale, coef), 1e-5)
        const yr = referenceOps.standardize(referenceOps.tensor(xs, shape), axes, referenceOps.tensor(scale, coef), 1e-5)
        assertAllClose(await ops.read(y), referenceOps.readSync(yr), { rtol: 1e-5, atol: 1e-5, label: 'standardize' })
      })

      it(`the gradient of standardize of [${shape}] per axes [${kept}] equals the composed path's`, async () => {
        registerGradients()
        const x = tf.tensor(values(n, 11), [...shape])
        const scale = tf.tensor(values(c, 12), coef)
        const weights = tf.tensor(values(n, 13), [...shape])
        const loss = (xx: tf.Tensor, s: tf.Tensor) => tf.sum(tf.mul(tfOps.standardize(xx, axes, s, 1e-5), weights)) as tf.Scalar
        const read = (ts: tf.Tensor[]) => Promise.all(ts.map(async (t) => Array.from(await t.data())))
        const fused = await read(tf.grads(loss)([x, scale]))
        useFusedKernels(false)
        const composed = await read(tf.grads(loss)([x, scale]))
        useFusedKernels(true)
        fused.forEach((g, i) => {
          const size = composed[i]!.reduce((m, v) => Math.max(m, Math.abs(v)), 0)
          assertAllClose(g, composed[i]!, { rtol: 1e-3, atol: 1e-4 * size, label: `d/d${['x', 'scale'][i]}` })
        })
        expect(fused[0]!.some((v) => v !== 0)).toBe(true)
      })
    }
  },
  ['cpu', 'wasm', 'webgpu'],
)
