/**
 * The fused axpby kernel agrees with the composed fallback and the Float64 reference, on large
 * tensors (where the fused path matters), and is differentiable.
 */
import * as tf from '@tensorflow/tfjs-core'
import { expect } from 'vitest'
import { referenceOps } from 'polyak'
import { assertAllClose } from 'polyak/laws'
import { AXPBY } from '../../src/kernels/axpby.js'
import { useFusedKernels } from '../../src/kernels/registry.js'
import { registerGradients } from '../../src/nn/gradients.js'
import { describeEachBackend, itOn } from '../support/backends.js'

describeEachBackend(
  'fused axpby',
  (b) => {
    const it = itOn(b)
    // 300 000: four lanes at a time where a kernel vectorises; 300 001: the scalar path or tail
    for (const n of [300_000, 300_001])
      it(`matches the composed path and the reference on ${n} elements`, async (ops) => {
        const xs = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 10)
        const ys = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.7) * 3)
        const x = ops.tensor(xs, [n])
        const y = ops.tensor(ys, [n])
        const fused = await ops.read(ops.axpby(0.999, x, 1 - 0.999, y))
        useFusedKernels(false)
        const composed = await ops.read(ops.axpby(0.999, x, 1 - 0.999, y))
        useFusedKernels(true)
        const want = referenceOps.readSync(referenceOps.axpby(0.999, referenceOps.tensor(xs, [n]), 1 - 0.999, referenceOps.tensor(ys, [n])))
        assertAllClose(fused, want, { rtol: 4e-7, atol: 1e-6, label: 'fused vs reference' })
        assertAllClose(composed, want, { rtol: 4e-7, atol: 1e-6, label: 'composed vs reference' })
        expect(tf.getKernel(AXPBY, b.descriptor.name)).toBeDefined()
      })

    it('is differentiable: d(α·x + β·y)/dx = α, /dy = β', async (ops) => {
      registerGradients()
      const [gx, gy] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(ops.axpby(0.25, x as never, 0.75, y as never) as unknown as tf.Tensor) as tf.Scalar)([
        tf.ones([3]),
        tf.ones([3]),
      ])
      expect(Array.from(await gx!.data())).toEqual([0.25, 0.25, 0.25])
      expect(Array.from(await gy!.data())).toEqual([0.75, 0.75, 0.75])
    })
  },
  ['cpu', 'wasm', 'webgpu'],
)

describeEachBackend(
  'buffer donation (cpu, wasm, webgpu)',
  (b) => {
    const it = itOn(b)
    it('a donated, unshared x is updated in place; a shared one (a clone) is not', async (ops) => {
      const x = ops.tensor([1, 2, 3], [3]) as tf.Tensor
      const y = ops.tensor([3, 2, 1], [3]) as tf.Tensor
      const out = ops.axpby(0.5, x as never, 0.5, y as never, { donate: true }) as unknown as tf.Tensor
      expect(out.dataId).toBe(x.dataId)
      ops.dispose(x as never)
      expect(Array.from(await out.data())).toEqual([2, 2, 2])
      const shared = ops.tensor([1, 2, 3], [3]) as tf.Tensor
      const alias = ops.clone(shared as never) as unknown as tf.Tensor
      // a clone shares storage (on wasm polyak registers a sharing Identity: the tape's saved tensors are clones)
      expect(alias.dataId).toBe(shared.dataId)
      const out2 = ops.axpby(0.5, shared as never, 0.5, y as never, { donate: true }) as unknown as tf.Tensor
      expect(out2.dataId).not.toBe(shared.dataId)
      expect(Array.from(await alias.data())).toEqual([1, 2, 3])
    })
    it('emanUpdate passes donate through: the donated teacher leaf is updated in its own storage', async (ops) => {
      const { unsafeEmanUpdate } = await import('polyak')
      const teacher = { params: { w: ops.tensor([1, 2, 3], [3]) }, stats: {} }
      const student = { params: { w: ops.tensor([3, 2, 1], [3]) }, stats: {} }
      const [, next] = unsafeEmanUpdate(ops, { decay: 0.5, donate: true })(student, 0)(teacher)
      expect((next.params.w as unknown as tf.Tensor).dataId).toBe((teacher.params.w as unknown as tf.Tensor).dataId)
      const [, undonated] = unsafeEmanUpdate(ops, { decay: 0.5 })(student, 0)(next)
      expect((undonated.params.w as unknown as tf.Tensor).dataId).not.toBe((next.params.w as unknown as tf.Tensor).dataId)
    })
  },
  ['cpu', 'wasm', 'webgpu'],
)

describeEachBackend(
  'buffer donation law',
  (b) => {
    const it = itOn(b)
    // wasm: the donated storage must also get a new identity, or XNNPACK's per-tensor caches of packed
    // matMul/conv weights keep computing with the old values (a donated teacher stayed at its initial weights)
    it('holds, including a product that saw x before the donation', async (ops) => {
      const { assertLaws, axpbyDonation } = await import('polyak/laws')
      await expect(assertLaws(b.descriptor.name, ops, [axpbyDonation], ops, { numRuns: 50 })).resolves.toHaveLength(1)
    })
  },
  ['cpu', 'wasm', 'webgpu'],
)

describeEachBackend(
  'donated teacher update of a conv net',
  (b) => {
    const it = itOn(b)
    it('the donated teacher computes the same logits as the undonated one', async () => {
      const { convNet, unsafeTeacherUpdate, emanPolicy, tfOps, disposeTree } = await import('polyak')
      const model = convNet({ inputShape: [8, 8, 1], widths: [4, 8], norm: 'eman', weightNorm: 'none', classes: 3 })
      const x = tf.tensor4d(
        Float32Array.from({ length: 2 * 8 * 8 }, (_, i) => Math.sin(i * 0.3)),
        [2, 8, 8, 1],
      )
      const logits = async (s: { params: unknown; stats: unknown }) =>
        Array.from(await tf.tidy(() => model.forward(s.params as never, s.stats as never, x, 'eval', { heads: ['classifier'] }).logits!).data())
      const student = model.init(1)
      const update = (donate: boolean) => unsafeTeacherUpdate(tfOps, { decay: 0.5, policy: emanPolicy, donate })(student as never)
      const plainTeacher = model.init(0)
      const donatedTeacher = model.init(0)
      const before = await logits(donatedTeacher) // lets a backend cache work for the old weights
      const [, plain] = update(false)(plainTeacher as never)
      const [, donated] = update(true)(donatedTeacher as never)
      disposeTree(tfOps, donatedTeacher)
      const want = await logits(plain as never)
      expect(want).not.toEqual(before)
      expect(await logits(donated as never)).toEqual(want)
      disposeTree(tfOps, [plain, donated, plainTeacher, student, x])
    })
  },
  ['cpu', 'wasm', 'webgpu'],
)
