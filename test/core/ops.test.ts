/**
 * Example tests of the DSL primitives' contracts (errors, dtypes, edge cases) on every backend.
 * Numerical agreement with the reference on random inputs is in conformance.test.ts.
 */
import { expect } from 'vitest'
import { DisposedTensorError, InvalidArgumentError, ShapeMismatchError, referenceOps } from 'polyak'
import { assertAllClose } from 'polyak/laws'
import { describeEachBackend, itOn } from '../support/backends.js'

describeEachBackend('Ops contracts', (b) => {
  const it = itOn(b)

  it('axpby gives exactly x at alpha=1, beta=0 and exactly y at alpha=0, beta=1', async (ops) => {
    const x = ops.tensor([1.5, -2.25, 1e-7, 3e5], [4])
    const y = ops.tensor([7, 8, 9, 10], [4])
    expect(Array.from(await ops.read(ops.axpby(1, x, 0, y)))).toEqual(Array.from(await ops.read(x)))
    expect(Array.from(await ops.read(ops.axpby(0, x, 1, y)))).toEqual(Array.from(await ops.read(y)))
  })

  it('moments: biased and unbiased variance differ by n/(n-1)', async (ops) => {
    const x = ops.tensor([1, 2, 3, 4, 5, 6], [2, 3])
    const biased = ops.moments(x, 1)
    const unbiased = ops.moments(x, 1, { estimator: 'unbiased' })
    expect(Array.from(await ops.read(biased.mean))).toEqual([2, 5])
    expect(Array.from(await ops.read(biased.variance)).map((v) => +v.toFixed(5))).toEqual([0.66667, 0.66667])
    expect(Array.from(await ops.read(unbiased.variance)).map((v) => +v.toFixed(5))).toEqual([1, 1])
    const kept = ops.moments(x, [0, 1], { keepDims: true })
    expect(kept.mean.shape).toEqual([1, 1])
  })

  it('moments over every axis but the last (the BN case; a matMul path on cpu) match the reference', async (ops) => {
    const shape = [4, 3, 3, 5]
    const data = Array.from({ length: 180 }, (_, i) => Math.sin(i * 0.37) * 3 + (i % 5))
    for (const estimator of ['biased', 'unbiased'] as const) {
      for (const keepDims of [false, true]) {
        const m = ops.moments(ops.tensor(data, shape), [0, 1, 2], { estimator, keepDims })
        const r = referenceOps.moments(referenceOps.tensor(data, shape), [0, 1, 2], { estimator, keepDims })
        expect(m.mean.shape).toEqual(r.mean.shape)
        assertAllClose(await ops.read(m.mean), referenceOps.readSync(r.mean), { rtol: 1e-5, atol: 1e-5 })
        assertAllClose(await ops.read(m.variance), referenceOps.readSync(r.variance), { rtol: 1e-5, atol: 1e-5 })
      }
    }
  })

  it('moments: the unbiased estimator of one value is an error that says what to do', (ops) => {
    const x = ops.tensor([1, 2], [2, 1])
    expect(() => ops.moments(x, 1, { estimator: 'unbiased' })).toThrow(InvalidArgumentError)
    expect(() => ops.moments(x, 1, { estimator: 'unbiased' })).toThrow(/n − 1.*at least 2.*n = 1/)
  })

  it('binary ops name both arguments and shapes when they do not broadcast', (ops) => {
    const a = ops.zeros([2, 3])
    const bb = ops.zeros([4])
    expect(() => ops.add(a, bb)).toThrow(ShapeMismatchError)
    expect(() => ops.add(a, bb)).toThrow(/'add'.*argument a \[2,3\].*argument b \[4\]/)
    expect(() => ops.axpby(0.5, a, 0.5, bb)).toThrow(/'axpby'/)
  })

  it('a disposed tensor is an error naming the primitive and argument', (ops) => {
    const a = ops.ones([2])
    const d = ops.ones([2])
    ops.dispose(d)
    expect(ops.isDisposed(d)).toBe(true)
    expect(() => ops.mul(a, d)).toThrow(DisposedTensorError)
    expect(() => ops.mul(a, d)).toThrow(/'mul: b' is a disposed tensor/)
    expect(() => ops.dispose(d)).not.toThrow()
  })

  it('axes out of range and bad permutations are errors naming the argument', (ops) => {
    const x = ops.zeros([2, 3])
    expect(() => ops.sum(x, 2)).toThrow(/'sum: axes'.*axis 2 is out of range for a tensor of rank 2/)
    expect(() => ops.mean(x, [0, -2])).toThrow(/repeat an axis/)
    expect(() => ops.transpose(x, [0, 0])).toThrow(/'transpose: perm'/)
    expect(() => ops.reshape(x, [4, -1])).toThrow(/cannot reshape \[2,3\]/)
    expect(() => ops.tensor([1, 2, 3], [2, 2])).toThrow(/3 values do not fill shape \[2,2\]/)
  })

  it('matMul and conv2d check their operands', (ops) => {
    expect(() => ops.matMul(ops.zeros([2, 3]), ops.zeros([2, 3]))).toThrow(/inner dimensions differ/)
    expect(() => ops.conv2d(ops.zeros([1, 4, 4, 2]), ops.zeros([3, 3, 3, 1]), 1, 'same')).toThrow(/2 channels.*expects 3/)
  })

  it('int32 tensors stay int32 under add, and cast truncates toward zero', async (ops) => {
    const n = ops.tensor([3], [], 'int32')
    const one = ops.scalar(1, 'int32')
    const m = ops.add(n, one)
    expect(m.dtype).toBe('int32')
    expect(Array.from(await ops.read(m))).toEqual([4])
    expect(Array.from(await ops.read(ops.cast(ops.tensor([-1.7, 1.7], [2]), 'int32')))).toEqual([-1, 1])
  })

  it('tidy frees intermediates, keeps what the result reaches, and rejects async bodies', (ops) => {
    const before = ops.liveTensors()
    const kept = ops.tidy(() => {
      const a = ops.ones([3])
      const c = ops.add(a, a)
      ops.mul(c, c)
      return { c }
    })
    expect(ops.liveTensors()).toBe(before + 1)
    ops.dispose(kept.c)
    expect(ops.liveTensors()).toBe(before)
    expect(() => ops.tidy(() => Promise.resolve(1))).toThrow(/synchronous/)
  })

  it('readSync works where the backend reads synchronously, and otherwise says to use read', (ops) => {
    const x = ops.add(ops.tensor([1, 2], [2]), ops.zeros([2]))
    if (b.descriptor.syncReadback) expect(Array.from(ops.readSync(x))).toEqual([1, 2])
    else expect(() => ops.readSync(x)).toThrow(/use await ops.read/)
  })
})
