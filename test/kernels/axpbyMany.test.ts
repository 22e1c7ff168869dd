/**
 * `axpbyMany`: the multi-tensor kernel on webgpu (several pairs per dispatch, recorded into tfjs's
 * own command stream) and the pair-by-pair composition elsewhere agree with the Float64 reference,
 * keep the order of the queue, honour donation only where it is safe, and fail before computing.
 */
import * as tf from '@tensorflow/tfjs-core'
import { expect } from 'vitest'
import { InvalidArgumentError, ShapeMismatchError, referenceOps } from 'polyak'
import { assertAllClose } from 'polyak/laws'
import { AXPBY_MANY } from '../../src/kernels/axpbyMany.js'
import { registerGradients } from '../../src/nn/gradients.js'
import { describeEachBackend, itOn } from '../support/backends.js'

/** Sizes that exercise both element types (vec4 and f32), an empty tensor, and more pairs than one dispatch binds. */
const SHAPES: number[][] = [
  [64, 3, 7, 7],
  [64],
  [3],
  [0, 4],
  [300_001],
  [5, 5],
  [1000, 12],
  [7],
  ...Array.from({ length: 24 }, (_, i) => [4 * (i + 1) + (i % 3 === 0 ? 1 : 0)]),
]

const values = (n: number, seed: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed) * (1 + (seed % 5)))

describeEachBackend(
  'axpbyMany',
  (b) => {
    const it = itOn(b)

    it(`matches the reference on ${SHAPES.length} pairs of mixed sizes`, async (ops) => {
      const host = SHAPES.map((s, i) => {
        const n = s.reduce((p, d) => p * d, 1)
        return { shape: s, x: values(n, i), y: values(n, i + 100) }
      })
      // x computed by a tfjs op just before, the outputs consumed by one just after: the queue's order must hold
      const xs = host.map((h) => tf.tidy(() => tf.add(tf.tensor(h.x, h.shape), tf.scalar(0))))
      const ys = host.map((h) => ops.tensor(h.y, h.shape) as tf.Tensor)
      const out = ops.axpbyMany(0.999, xs as never[], 1 - 0.999, ys as never[]) as unknown as tf.Tensor[]
      const doubled = out.map((t) => tf.mul(t, tf.scalar(2)))
      // the inputs can go at once: their buffers stay until the queued work that reads them has run
      tf.dispose([...xs, ...ys])
      expect(out).toHaveLength(SHAPES.length)
      for (let i = 0; i < SHAPES.length; i++) {
        const h = host[i]!
        expect(out[i]!.shape).toEqual(h.shape)
        const want = referenceOps.readSync(referenceOps.axpby(0.999, referenceOps.tensor(h.x, h.shape), 1 - 0.999, referenceOps.tensor(h.y, h.shape)))
        assertAllClose(await out[i]!.data(), want, { rtol: 4e-7, atol: 1e-6, label: `pair ${i} ${JSON.stringify(h.shape)}` })
        assertAllClose(
          await doubled[i]!.data(),
          want.map((v) => 2 * v),
          { rtol: 4e-7, atol: 2e-6, label: `pair ${i}, read by a later op` },
        )
      }
      tf.dispose([...out, ...doubled])
      if (b.descriptor.name === 'webgpu') expect(tf.getKernel(AXPBY_MANY, 'webgpu')).toBeDefined()
    })

    it('pairs a tensor with itself and repeats a tensor across pairs', async (ops) => {
      const a = ops.tensor([1, 2, 3, 4], [4]) as tf.Tensor
      const c = ops.tensor([10, 20, 30, 40], [4]) as tf.Tensor
      for (const donate of [false, true]) {
        const out = ops.axpbyMany(0.5, [a, a, c] as never[], 0.25, [a, c, a] as never[], { donate }) as unknown as tf.Tensor[]
        // a is used three times: never written in place, whatever the donation
        expect(Array.from(await out[0]!.data())).toEqual([0.75, 1.5, 2.25, 3])
        expect(Array.from(await out[1]!.data())).toEqual([3, 6, 9, 12])
        expect(Array.from(await out[2]!.data())).toEqual([5.25, 10.5, 15.75, 21])
        expect(Array.from(await a.data())).toEqual([1, 2, 3, 4])
        tf.dispose(out)
      }
      tf.dispose([a, c])
    })

    it('a donated teacher with a tensor at two paths (tied weights) is not written in place', async (ops) => {
      const { unsafeTeacherUpdate } = await import('polyak')
      const tied = ops.tensor([2, 4], [2]) as tf.Tensor
      const teacher = { params: { a: tied, b: tied }, stats: {} }
      const student = { params: { a: ops.tensor([0, 0], [2]), b: ops.tensor([4, 8], [2]) }, stats: {} }
      const [, next] = unsafeTeacherUpdate(ops, { decay: 0.5, donate: true })(student as never)(teacher as never)
      const n = next as unknown as { params: { a: tf.Tensor; b: tf.Tensor } }
      expect(Array.from(await n.params.a.data())).toEqual([1, 2])
      expect(Array.from(await n.params.b.data())).toEqual([3, 6])
      expect(Array.from(await tied.data())).toEqual([2, 4])
      tf.dispose([tied, student.params.a as never, student.params.b as never, n.params.a, n.params.b])
    })

    it('checks every pair before computing any: a bad pair leaves the donated tensors as they were', async (ops) => {
      const x0 = ops.tensor([1, 2, 3, 4], [4]) as tf.Tensor
      const y0 = ops.tensor([4, 3, 2, 1], [4]) as tf.Tensor
      const x1 = ops.tensor([1, 2], [2]) as tf.Tensor
      const y1 = ops.tensor([1, 2, 3], [3]) as tf.Tensor
      const before = tf.memory().numTensors
      expect(() => ops.axpbyMany(0.5, [x0, x1] as never[], 0.5, [y0, y1] as never[], { donate: true })).toThrow(ShapeMismatchError)
      expect(() => ops.axpbyMany(0.5, [x0, x1] as never[], 0.5, [y0] as never[])).toThrow(InvalidArgumentError)
      expect(() => ops.axpbyMany(0.5, [x0, x1] as never[], 0.5, [y0] as never[])).toThrow(/has 1 tensors, xs has 2/)
      expect(tf.memory().numTensors).toBe(before)
      expect(Array.from(await x0.data())).toEqual([1, 2, 3, 4])
      tf.dispose([x0, y0, x1, y1])
    })

    it('is differentiable: ∂/∂x_i = α, ∂/∂y_i = β', async (ops) => {
      registerGradients()
      const f = (x0: tf.Tensor, y0: tf.Tensor, x1: tf.Tensor, y1: tf.Tensor) => {
        const [o0, o1] = ops.axpbyMany(0.25, [x0, x1] as never[], 0.75, [y0, y1] as never[]) as unknown as tf.Tensor[]
        return tf.add(tf.sum(o0!), tf.mul(tf.sum(o1!), tf.scalar(2))) as tf.Scalar
      }
      const g = tf.grads(f)([tf.ones([4]), tf.ones([4]), tf.ones([3]), tf.ones([3])])
      expect(Array.from(await g[0]!.data())).toEqual([0.25, 0.25, 0.25, 0.25])
      expect(Array.from(await g[1]!.data())).toEqual([0.75, 0.75, 0.75, 0.75])
      expect(Array.from(await g[2]!.data())).toEqual([0.5, 0.5, 0.5])
      expect(Array.from(await g[3]!.data())).toEqual([1.5, 1.5, 1.5])
      // one pair: tfjs hands the gradient of a single output over as a tensor, not an array
      const [one] = tf.grads(
        (x: tf.Tensor, y: tf.Tensor) => tf.sum((ops.axpbyMany(3, [x] as never[], 1, [y] as never[]) as unknown as tf.Tensor[])[0]!) as tf.Scalar,
      )([tf.ones([2]), tf.ones([2])])
      expect(Array.from(await one!.data())).toEqual([3, 3])
    })
  },
  ['cpu', 'wasm', 'webgpu'],
)

describeEachBackend(
  'axpbyMany on webgpu: dispatches and donation',
  (b) => {
    const it = itOn(b)

    it('takes a dispatch for several pairs, and tf.profile sees the kernel', async (ops) => {
      // 24 pairs: 12 dispatches at WebGPU's default limit, 5 at 16, both under tfjs's submit batch of 15
      const xs = Array.from({ length: 24 }, (_, i) => ops.tensor(values(64, i), [64]) as tf.Tensor)
      const ys = Array.from({ length: 24 }, (_, i) => ops.tensor(values(64, i + 1), [64]) as tf.Tensor)
      await Promise.all(xs.map((x) => x.data()))
      // a read submits the queue: from here the backend counts the dispatches of the next call
      const backend = tf.backend() as unknown as { dispatchCountInPass: number; device: { limits: { maxStorageBuffersPerShaderStage: number } } }
      expect(backend.dispatchCountInPass).toBe(0)
      const direct = ops.axpbyMany(0.9, xs as never[], 0.1, ys as never[]) as unknown as tf.Tensor[]
      const perDispatch = Math.floor(backend.device.limits.maxStorageBuffersPerShaderStage / 3)
      expect(backend.dispatchCountInPass).toBe(Math.ceil(24 / perDispatch))
      tf.dispose(direct)
      let outs: tf.Tensor[] = []
      const profile = await tf.profile(() => {
        outs = ops.axpbyMany(0.9, xs as never[], 0.1, ys as never[]) as unknown as tf.Tensor[]
        return outs
      })
      const runs = profile.kernels.filter((k) => k.name === AXPBY_MANY)
      expect(runs).toHaveLength(1)
      expect(runs[0]!.outputShapes).toHaveLength(24)
      expect(profile.kernelNames).not.toContain('PolyakAxpby')
      for (let i = 0; i < 24; i++) {
        const want = Array.from(values(64, i), (v, k) => Math.fround(0.9) * v + Math.fround(0.1) * values(64, i + 1)[k]!)
        assertAllClose(await outs[i]!.data(), want, { rtol: 1e-6, atol: 1e-6, label: `pair ${i}` })
      }
      tf.dispose([...xs, ...ys, ...outs])
    })

    it("the device has the adapter's storage-buffer limit, not WebGPU's default of 8", async () => {
      const gpu = (globalThis as unknown as { navigator: { gpu: { requestAdapter: () => Promise<{ limits: { maxStorageBuffersPerShaderStage: number } }> } } })
        .navigator.gpu
      const adapter = await gpu.requestAdapter()
      const device = (tf.backend() as unknown as { device: { limits: { maxStorageBuffersPerShaderStage: number } } }).device
      expect(device.limits.maxStorageBuffersPerShaderStage).toBe(adapter.limits.maxStorageBuffersPerShaderStage)
    })

    it('a donated, unshared x takes its result in its own storage, and a value read before is not served stale', async (ops) => {
      // made on the GPU, then read: tfjs now holds a CPU copy of x beside its buffer
      const x = tf.tidy(() => tf.add(tf.tensor([1, 2, 3, 4, 5], [5]), tf.scalar(0)))
      const y = ops.tensor([5, 4, 3, 2, 1], [5]) as tf.Tensor
      expect(Array.from(await x.data())).toEqual([1, 2, 3, 4, 5])
      const shared = ops.tensor([1, 1, 1, 1], [4]) as tf.Tensor
      const alias = ops.clone(shared as never) as unknown as tf.Tensor
      const z = ops.tensor([3, 3, 3, 3], [4]) as tf.Tensor
      const [out, out2] = ops.axpbyMany(0.5, [x, shared] as never[], 0.5, [y, z] as never[], { donate: true }) as unknown as tf.Tensor[]
      expect(out!.dataId).toBe(x.dataId)
      expect(out2!.dataId).not.toBe(shared.dataId)
      ops.dispose(x as never)
      expect(Array.from(await out!.data())).toEqual([3, 3, 3, 3, 3])
      expect(Array.from(await out2!.data())).toEqual([2, 2, 2, 2])
      expect(Array.from(await alias.data())).toEqual([1, 1, 1, 1])
      // the single-pair axpby donates through the same kernel on webgpu
      const w = ops.tensor([2, 4], [2]) as tf.Tensor
      const v = ops.tensor([0, 0], [2]) as tf.Tensor
      const halved = ops.axpby(0.5, w as never, 1, v as never, { donate: true }) as unknown as tf.Tensor
      expect(halved.dataId).toBe(w.dataId)
      expect(Array.from(await halved.data())).toEqual([1, 2])
      tf.dispose([out!, out2!, y, shared, alias, z, halved, v])
    })
  },
  ['webgpu'],
)
