/**
 * polyak's gradient functions against central finite differences (float32 forward, so the check is
 * loose but catches wrong formulas), and the wasm Conv2D gradients (polyak's flipped convolution and
 * im2col kernel) against the cpu backend's own Conv2DBackpropInput/Filter kernels.
 */
import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { registerGradients } from '../../src/nn/gradients.js'
import { unsafeUseBackend } from 'polyak/backends'
import { describeEachBackend, itOn } from '../support/backends.js'

const numeric = (f: (x: tf.Tensor) => tf.Scalar, x: tf.Tensor, h = 1e-2): number[] => {
  const base = Array.from(x.dataSync())
  return base.map((_, i) => {
    const plus = base.slice()
    const minus = base.slice()
    plus[i]! += h
    minus[i]! -= h
    const fp = tf.tidy(() => f(tf.tensor(plus, x.shape)).dataSync()[0]!)
    const fm = tf.tidy(() => f(tf.tensor(minus, x.shape)).dataSync()[0]!)
    return (fp - fm) / (2 * h)
  })
}

const check = (name: string, f: (x: tf.Tensor) => tf.Scalar, shape: number[], positive = false) =>
  it(`${name}: analytic gradient = finite differences`, () => {
    const n = shape.reduce((a, b) => a * b, 1)
    const data = Array.from({ length: n }, (_, i) => (positive ? 0.5 + ((i * 7) % 11) / 10 : Math.sin(i * 1.3) * 1.5 + 0.1))
    const x = tf.tensor(data, shape)
    const analytic = Array.from(tf.grad(f)(x).dataSync())
    const fd = numeric(f, x)
    analytic.forEach((a, i) => expect(Math.abs(a - fd[i]!), `${name} element ${i}: ${a} vs ${fd[i]}`).toBeLessThan(2e-2 * Math.max(1, Math.abs(fd[i]!))))
  })

describe('gradients (cpu)', () => {
  beforeAll(async () => {
    await unsafeUseBackend('cpu')
    registerGradients()
  })
  const w = () => tf.tensor([0.3, -0.7, 1.1, 0.2, -0.4, 0.9], [2, 3])
  check('Add/Sub/Mul with broadcasting', (x) => tf.sum(tf.mul(tf.sub(tf.add(x, tf.tensor([1, 2, 3])), tf.tensor([[0.5], [0.25]])), x)) as tf.Scalar, [2, 3])
  check('RealDiv', (x) => tf.sum(tf.div(tf.tensor([1, 2, 3, 4], [2, 2]), x)) as tf.Scalar, [2, 2], true)
  check(
    'Square, Sqrt, Rsqrt, Exp, Log',
    (x) => tf.sum(tf.add(tf.add(tf.sqrt(x), tf.rsqrt(x)), tf.add(tf.exp(tf.mul(x, 0.1)), tf.log(tf.square(x))))) as tf.Scalar,
    [4],
    true,
  )
  check('Relu, Neg, Mean, Sum over axes', (x) => tf.mean(tf.sum(tf.neg(tf.relu(x)), 1)) as tf.Scalar, [3, 4])
  check('MatMul (both transposes)', (x) => tf.sum(tf.add(tf.matMul(x, w(), false, false), tf.matMul(w(), x, true, true))) as tf.Scalar, [3, 2])
  check(
    'Reshape, Transpose, Slice, Concat',
    (x) =>
      tf.sum(
        tf.mul(
          tf.concat([tf.slice(tf.transpose(tf.reshape(x, [3, 2])), [0, 1], [2, 2]), tf.slice(tf.reshape(x, [2, 3]), [0, 0], [2, 1])], 1),
          tf.tensor([
            [1, 2, 3],
            [4, 5, 6],
          ]),
        ),
      ) as tf.Scalar,
    [6],
  )
  check(
    'Tile of a rank-4 tensor over three axes (reduced one axis at a time), MaxPool, AvgPool with same padding',
    (x) => {
      const w4 = tf.reshape(tf.range(1, 1 + 2 * 6 * 6 * 2), [2, 6, 6, 2])
      const x4 = tf.reshape(x, [1, 3, 3, 2]) as tf.Tensor4D
      const tiled = tf.tile(x4, [2, 2, 2, 1])
      return tf.add(tf.sum(tf.mul(tiled, w4)), tf.add(tf.sum(tf.maxPool(x4, 2, 1, 'valid')), tf.sum(tf.mul(tf.avgPool(x4, 2, 2, 'same'), 3)))) as tf.Scalar
    },
    [18],
  )
  check(
    'Softmax and logSoftmax',
    (x) =>
      tf.sum(
        tf.mul(
          tf.add(tf.softmax(x), tf.logSoftmax(x)),
          tf.tensor([
            [1, 0, 2],
            [0.5, 1, 0],
          ]),
        ),
      ) as tf.Scalar,
    [2, 3],
  )
  check(
    'Conv2D input (same padding, stride 2)',
    (x) =>
      tf.sum(
        tf.square(
          tf.conv2d(
            x as tf.Tensor4D,
            tf.tensor4d(
              Array.from({ length: 18 }, (_, i) => Math.cos(i)),
              [3, 3, 1, 2],
            ),
            2,
            'same',
          ),
        ),
      ) as tf.Scalar,
    [1, 5, 5, 1],
  )
  check(
    'Conv2D filter (valid padding)',
    (f) =>
      tf.sum(
        tf.square(
          tf.conv2d(
            tf.tensor4d(
              Array.from({ length: 32 }, (_, i) => Math.sin(i)),
              [1, 4, 4, 2],
            ),
            f as tf.Tensor4D,
            1,
            'valid',
          ),
        ),
      ) as tf.Scalar,
    [2, 2, 2, 1],
  )

  it('the wasm Conv2D gradients (flipped convolution for x, im2col for the filter) equal the cpu kernels', async () => {
    const configs = [
      { x: [2, 7, 6, 3], f: [3, 3, 3, 4], stride: 1, pad: 'same' },
      { x: [2, 7, 6, 3], f: [3, 3, 3, 4], stride: 2, pad: 'same' },
      { x: [2, 7, 6, 3], f: [3, 3, 3, 4], stride: 1, pad: 'valid' },
      { x: [2, 7, 6, 3], f: [3, 3, 3, 4], stride: 2, pad: 'valid' },
      { x: [1, 6, 5, 2], f: [2, 2, 2, 3], stride: 1, pad: 'same' }, // even kernel: the extra padding goes after
      { x: [1, 6, 5, 2], f: [2, 3, 2, 3], stride: 1, pad: 'valid' },
      { x: [3, 4, 4, 5], f: [1, 1, 5, 2], stride: 1, pad: 'same' },
      { x: [1, 9, 9, 1], f: [5, 5, 1, 2], stride: 1, pad: 'same' },
      { x: [2, 9, 11, 8], f: [3, 3, 8, 3], stride: 1, pad: 'same' }, // 4×4 SIMD transposes in im2col, edge columns
      { x: [2, 9, 11, 6], f: [3, 3, 6, 20], stride: 2, pad: 'same' },
      { x: [4, 12, 12, 1], f: [3, 3, 1, 17], stride: 1, pad: 'same' }, // 9 × 576 · 576 × 17: the few-rows product
    ] as const
    for (const c of configs) {
      const xs = Array.from({ length: c.x.reduce((a: number, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37))
      const fs = Array.from({ length: c.f.reduce((a: number, b) => a * b, 1) }, (_, i) => Math.cos(i * 0.21))
      const loss = (x: tf.Tensor, f: tf.Tensor) => tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.stride, c.pad))) as tf.Scalar
      const grads = () =>
        tf
          .grads(loss)([tf.tensor4d(xs, [...c.x]), tf.tensor4d(fs, [...c.f])])
          .map((t) => Array.from(t.dataSync()))
      const native = grads()
      await unsafeUseBackend('wasm')
      const viaWasm = grads()
      await unsafeUseBackend('cpu')
      ;['x', 'filter'].forEach((name, k) =>
        native[k]!.forEach((v, i) =>
          expect(Math.abs(v - viaWasm[k]![i]!), `${JSON.stringify(c)} d${name}[${i}]`).toBeLessThan(1e-3 * Math.max(1, Math.abs(v))),
        ),
      )
    }
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined()
  })
})

describeEachBackend(
  'the webgpu filter gradient by im2col (from 32 input channels)',
  (b) => {
    const it = itOn(b)
    it('equals the cpu kernels at 32 and 64 input channels, stride 1 and 2, and at 16 (the stock kernel)', async () => {
      registerGradients()
      const configs = [
        { x: [2, 6, 5, 32], f: [3, 3, 32, 8], stride: 1, pad: 'same' },
        { x: [2, 7, 6, 64], f: [3, 3, 64, 4], stride: 2, pad: 'same' },
        { x: [1, 5, 5, 32], f: [1, 1, 32, 6], stride: 2, pad: 'valid' },
        { x: [2, 6, 5, 16], f: [3, 3, 16, 8], stride: 1, pad: 'same' },
      ] as const
      for (const c of configs) {
        const xs = Array.from({ length: c.x.reduce((a: number, v) => a * v, 1) }, (_, i) => Math.sin(i * 0.37))
        const fs = Array.from({ length: c.f.reduce((a: number, v) => a * v, 1) }, (_, i) => Math.cos(i * 0.21))
        const grad = async (): Promise<number[]> => {
          const g = tf.grad((f: tf.Tensor) => tf.sum(tf.square(tf.conv2d(tf.tensor4d(xs, [...c.x]), f as tf.Tensor4D, c.stride, c.pad))) as tf.Scalar)(
            tf.tensor4d(fs, [...c.f]),
          )
          const out = Array.from(await g.data())
          g.dispose()
          return out
        }
        const onGpu = await grad()
        await unsafeUseBackend('cpu')
        registerGradients()
        const onCpu = await grad()
        await unsafeUseBackend('webgpu')
        onCpu.forEach((v, i) => expect(Math.abs(v - onGpu[i]!), `${JSON.stringify(c)} dW[${i}]`).toBeLessThan(1e-3 * Math.max(1, Math.abs(v))))
      }
    })
  },
  ['webgpu'],
)
