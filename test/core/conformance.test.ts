/**
 * Backend conformance: every primitive of the DSL, on random inputs, on every available backend,
 * compared with the Float64 reference interpreter.
 *
 * Tolerance per element: `|got − want| ≤ atol + (rtol + n·u)·scale`, where `rtol`/`atol` are the
 * backend's, `u = 2⁻²⁴`, `n` the number of terms the primitive accumulates, and `scale` the size of
 * the terms: `|want|` for elementwise primitives, and for sums, products and convolutions the same
 * primitive evaluated on absolute values (the classic forward error bound of float summation).
 */
import { FLOAT32_UNIT_ROUNDOFF } from '../../src/core/tolerance.js'
import fc from 'fast-check'
import { expect } from 'vitest'
import { type Leaf, type Ops, type RefTensor, referenceOps, unsafeBatchNorm } from 'polyak'
import { assertAllClose as expectAllClose } from 'polyak/laws'
import { sizeOf } from '../../laws/arbitraries.js'
import { type HostTensor, axesArb, broadcastPairArb, hostTensorArb, rangeDataArb, shapeArb, tensorArb, valueArb } from 'polyak/laws'
import { describeEachBackend, itOn } from '../support/backends.js'

const U = FLOAT32_UNIT_ROUNDOFF
const ofShape = (shape: readonly number[], min = -1e3, max = 1e3) => tensorArb(shape, rangeDataArb(min, max))
/** Values with -0 read as 0 (the sign of zero is not part of the contract). */
const zeroSigned = (a: ArrayLike<number>): number[] => Array.from(a, (v) => (v === 0 ? 0 : v))
const RUNS = Number(process.env.POLYAK_CONFORMANCE_RUNS ?? 50)

/** How a case's tolerance scale is obtained. */
type Bound =
  | { readonly kind: 'elementwise' }
  | { readonly kind: 'exact' }
  | { readonly kind: 'accumulate'; readonly n: (input: never) => number; readonly absInput: (input: never) => unknown }
  | { readonly kind: 'uniform'; readonly n: (input: never) => number; readonly scales: (input: never) => number[] }

interface Case<I> {
  readonly name: string
  readonly input: fc.Arbitrary<I>
  /** Runs the primitive; every returned tensor is compared. */
  readonly run: <T extends Leaf>(ops: Ops<T>, make: (h: HostTensor) => T, input: I) => T[]
  readonly bound: Bound
}

const elementwise: Bound = { kind: 'elementwise' }
const exact: Bound = { kind: 'exact' }
const abs = (h: HostTensor): HostTensor => ({ shape: h.shape, data: h.data.map(Math.abs) })
const accumulate = <I>(n: (i: I) => number, absInput: (i: I) => I): Bound => ({ kind: 'accumulate', n, absInput }) as unknown as Bound

const defineCase = <I>(c: Case<I>): Case<unknown> => c as unknown as Case<unknown>

const unaryCase = (name: string, f: <T extends Leaf>(ops: Ops<T>, x: T) => T, min = -1e3, max = 1e3, bound: Bound = elementwise): Case<unknown> =>
  defineCase<HostTensor>({
    name,
    input: hostTensorArb({ min, max }),
    run: (ops, make, x) => [f(ops, make(x))],
    bound,
  })

const binaryCase = (name: string, f: <T extends Leaf>(ops: Ops<T>, a: T, b: T) => T, bound: Bound = elementwise): Case<unknown> =>
  defineCase<readonly [HostTensor, HostTensor]>({
    name,
    input: broadcastPairArb(),
    run: (ops, make, [a, b]) => [f(ops, make(a), make(b))],
    bound,
  })

const reduceInput = hostTensorArb({ minRank: 0, maxRank: 4, maxDim: 5 }).chain((x) => fc.tuple(fc.constant(x), axesArb(x.shape.length), fc.boolean()))
const reducedCount = (x: HostTensor, axes: number[] | undefined): number =>
  axes === undefined ? sizeOf(x.shape) : axes.reduce((n, a) => n * x.shape[(a + x.shape.length) % x.shape.length]!, 1)

const cases: Array<Case<unknown>> = [
  binaryCase('add', (ops, a, b) => ops.add(a, b)),
  binaryCase(
    'sub',
    (ops, a, b) => ops.sub(a, b),
    accumulate<readonly [HostTensor, HostTensor]>(
      () => 1,
      ([a, b]) => [abs(a), { shape: b.shape, data: b.data.map((v) => -Math.abs(v)) }],
    ),
  ),
  binaryCase('mul', (ops, a, b) => ops.mul(a, b)),
  binaryCase('maximum', (ops, a, b) => ops.maximum(a, b), exact),
  binaryCase('minimum', (ops, a, b) => ops.minimum(a, b), exact),
  defineCase<readonly [HostTensor, HostTensor]>({
    name: 'div',
    input: broadcastPairArb().map(([a, b]) => [a, { shape: b.shape, data: b.data.map((v) => (v < 0 ? -0.5 : 0.5) + v) }] as const),
    run: (ops, make, [a, b]) => [ops.div(make(a), make(b))],
    bound: elementwise,
  }),
  unaryCase('neg', (ops, x) => ops.neg(x), -1e3, 1e3, exact),
  unaryCase('abs', (ops, x) => ops.abs(x), -1e3, 1e3, exact),
  unaryCase('square', (ops, x) => ops.square(x)),
  unaryCase('sqrt', (ops, x) => ops.sqrt(x), 1e-3, 1e3),
  unaryCase('rsqrt', (ops, x) => ops.rsqrt(x), 1e-3, 1e3),
  unaryCase('exp', (ops, x) => ops.exp(x), -20, 20),
  unaryCase(
    'log',
    (ops, x) => ops.log(x),
    1e-3,
    1e3,
    accumulate<HostTensor>(
      () => 1,
      (x) => ({ shape: x.shape, data: x.data.map(() => 10) }),
    ),
  ),
  unaryCase('relu', (ops, x) => ops.relu(x), -1e3, 1e3, exact),
  defineCase<readonly [HostTensor, number]>({
    name: 'scale',
    input: fc.tuple(hostTensorArb(), valueArb(-10, 10)),
    run: (ops, make, [x, s]) => [ops.scale(make(x), s)],
    bound: elementwise,
  }),
  defineCase<readonly [HostTensor, number]>({
    name: 'shift',
    input: fc.tuple(hostTensorArb(), valueArb(-1e3, 1e3)),
    run: (ops, make, [x, s]) => [ops.shift(make(x), s)],
    bound: accumulate<readonly [HostTensor, number]>(
      () => 1,
      ([x, s]) => [abs(x), Math.abs(s)],
    ),
  }),
  defineCase<readonly [readonly [HostTensor, HostTensor], number, number]>({
    name: 'axpby',
    input: fc.tuple(broadcastPairArb(), fc.double({ min: -2, max: 2, noNaN: true }), fc.double({ min: -2, max: 2, noNaN: true })),
    run: (ops, make, [[x, y], a, b]) => [ops.axpby(a, make(x), b, make(y))],
    bound: accumulate<readonly [readonly [HostTensor, HostTensor], number, number]>(
      () => 2,
      ([[x, y], a, b]) => [[abs(x), abs(y)], Math.abs(a), Math.abs(b)],
    ),
  }),
  defineCase<readonly [ReadonlyArray<readonly [HostTensor, HostTensor]>, number, number]>({
    // pairs of equal shapes (the multi-tensor kernel where a backend has one), each pair its own shape
    name: 'axpbyMany',
    input: fc.tuple(
      fc.array(
        hostTensorArb().chain((x) => fc.tuple(fc.constant(x), ofShape(x.shape))),
        { minLength: 1, maxLength: 7 },
      ),
      fc.double({ min: -2, max: 2, noNaN: true }),
      fc.double({ min: -2, max: 2, noNaN: true }),
    ),
    run: (ops, make, [pairs, a, b]) =>
      ops.axpbyMany(
        a,
        pairs.map(([x]) => make(x)),
        b,
        pairs.map(([, y]) => make(y)),
      ),
    bound: accumulate<readonly [ReadonlyArray<readonly [HostTensor, HostTensor]>, number, number]>(
      () => 2,
      ([pairs, a, b]) => [pairs.map(([x, y]) => [abs(x), abs(y)] as const), Math.abs(a), Math.abs(b)],
    ),
  }),
  defineCase<readonly [HostTensor, HostTensor, HostTensor, HostTensor]>({
    // coefficients along one axis (the fused per-channel kernel where a backend has one), or broadcast freely
    name: 'normalize',
    input: hostTensorArb({ minRank: 1, maxRank: 4, maxDim: 6, min: -100, max: 100 }).chain((x) =>
      fc.tuple(fc.nat({ max: x.shape.length }), fc.boolean()).chain(([axis, flat]) => {
        const coef =
          axis === x.shape.length ? x.shape.map(() => 1) : flat && axis === x.shape.length - 1 ? [x.shape[axis]!] : x.shape.map((d, i) => (i === axis ? d : 1))
        return fc.tuple(fc.constant(x), ofShape(coef, -100, 100), ofShape(coef, -10, 10), ofShape(coef, -100, 100))
      }),
    ),
    run: (ops, make, [x, c, s, o]) => [ops.normalize(make(x), make(c), make(s), make(o))],
    // (|x| + |c|)·|s| + |o| bounds every term
    bound: accumulate<readonly [HostTensor, HostTensor, HostTensor, HostTensor]>(
      () => 3,
      ([x, c, s, o]) => [abs(x), { shape: c.shape, data: c.data.map((v) => -Math.abs(v)) }, abs(s), abs(o)],
    ),
  }),
  unaryCase('cast int32', (ops, x) => ops.cast(x, 'int32'), -1e3, 1e3, exact),
  defineCase<readonly [HostTensor, number[] | undefined, boolean]>({
    name: 'sum',
    input: reduceInput,
    run: (ops, make, [x, axes, keep]) => [ops.sum(make(x), axes, keep)],
    bound: accumulate<readonly [HostTensor, number[] | undefined, boolean]>(
      ([x, axes]) => reducedCount(x, axes),
      ([x, a, k]) => [abs(x), a, k],
    ),
  }),
  defineCase<readonly [HostTensor, number[] | undefined, boolean]>({
    name: 'mean',
    input: reduceInput,
    run: (ops, make, [x, axes, keep]) => [ops.mean(make(x), axes, keep)],
    bound: accumulate<readonly [HostTensor, number[] | undefined, boolean]>(
      ([x, axes]) => reducedCount(x, axes),
      ([x, a, k]) => [abs(x), a, k],
    ),
  }),
  defineCase<readonly [HostTensor, number[] | undefined, boolean]>({
    name: 'max',
    input: reduceInput,
    run: (ops, make, [x, axes, keep]) => [ops.max(make(x), axes, keep)],
    bound: exact,
  }),
  defineCase<readonly [HostTensor, number[] | undefined, boolean]>({
    name: 'min',
    input: reduceInput,
    run: (ops, make, [x, axes, keep]) => [ops.min(make(x), axes, keep)],
    bound: exact,
  }),
  ...(['biased', 'unbiased'] as const).map((estimator) =>
    defineCase<readonly [HostTensor, number[] | undefined, boolean]>({
      name: `moments ${estimator}`,
      // at least two values per reduction, so the unbiased estimator is defined
      input: hostTensorArb({ minRank: 1, maxRank: 4, maxDim: 5, min: -100, max: 100 })
        .chain((x) => fc.tuple(fc.constant(x), axesArb(x.shape.length), fc.boolean()))
        .filter(([x, axes]) => reducedCount(x, axes) >= 2),
      run: (ops, make, [x, axes, keep]) => {
        const m = ops.moments(make(x), axes ?? x.shape.map((_, i) => i), { keepDims: keep, estimator })
        return [m.mean, m.variance]
      },
      // the mean's terms are bounded by max|x|, the variance's by (2·max|x|)²
      bound: {
        kind: 'uniform',
        n: ([x, axes]: readonly [HostTensor, number[] | undefined, boolean]) => 2 * reducedCount(x, axes),
        scales: ([x]: readonly [HostTensor, number[] | undefined, boolean]) => {
          const m = Math.max(...x.data.map(Math.abs))
          return [m, 4 * m * m]
        },
      } as unknown as Bound,
    }),
  ),
  defineCase<readonly [HostTensor, number[]]>({
    name: 'reshape',
    input: hostTensorArb({ minRank: 1 }).chain((x) =>
      fc.tuple(
        fc.constant(x),
        fc
          .shuffledSubarray([...x.shape], { minLength: x.shape.length, maxLength: x.shape.length })
          .chain((dims) => fc.integer({ min: 0, max: dims.length - 1 }).map((i) => dims.map((d, j) => (j === i ? -1 : d)))),
      ),
    ),
    run: (ops, make, [x, shape]) => [ops.reshape(make(x), shape)],
    bound: exact,
  }),
  defineCase<readonly [HostTensor, number[]]>({
    name: 'transpose',
    input: hostTensorArb({ minRank: 1 }).chain((x) =>
      fc.tuple(
        fc.constant(x),
        fc.shuffledSubarray(
          x.shape.map((_, i) => i),
          { minLength: x.shape.length, maxLength: x.shape.length },
        ),
      ),
    ),
    run: (ops, make, [x, perm]) => [ops.transpose(make(x), perm)],
    bound: exact,
  }),
  defineCase<readonly [HostTensor, number[]]>({
    name: 'broadcastTo',
    input: shapeArb(0, 3, 4).chain((target) =>
      fc
        .tuple(fc.integer({ min: 0, max: target.length }), fc.array(fc.boolean(), { minLength: target.length, maxLength: target.length }))
        .chain(([drop, ones]) => ofShape(target.slice(drop).map((d, i) => (ones[i + drop] === true ? 1 : d))))
        .map((x) => [x, target] as const),
    ),
    run: (ops, make, [x, shape]) => [ops.broadcastTo(make(x), shape)],
    bound: exact,
  }),
  defineCase<readonly [HostTensor[], number]>({
    name: 'concat',
    input: shapeArb(1, 3, 4).chain((shape) =>
      fc.integer({ min: 0, max: shape.length - 1 }).chain((axis) =>
        fc
          .array(
            fc.integer({ min: 1, max: 3 }).chain((d) => ofShape(shape.map((s, i) => (i === axis ? d : s)))),
            { minLength: 1, maxLength: 3 },
          )
          .map((xs) => [xs, axis] as const),
      ),
    ),
    run: (ops, make, [xs, axis]) => [ops.concat(xs.map(make), axis)],
    bound: exact,
  }),
  defineCase<readonly [HostTensor, number[], number[]]>({
    name: 'slice',
    input: hostTensorArb({ minRank: 1 }).chain((x) =>
      fc
        .tuple(...x.shape.map((d) => fc.integer({ min: 0, max: d - 1 }).chain((b) => fc.tuple(fc.constant(b), fc.integer({ min: -1, max: d - b })))))
        .map((bs) => [x, bs.map(([b]) => b), bs.map(([, s]) => s)] as const),
    ),
    run: (ops, make, [x, begin, size]) => [ops.slice(make(x), begin, size)],
    bound: exact,
  }),
  defineCase<readonly [HostTensor, HostTensor, boolean, boolean]>({
    name: 'matMul',
    input: fc
      .tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 6 }), fc.boolean(), fc.boolean())
      .chain(([m, k, n, ta, tb]) => fc.tuple(ofShape(ta ? [k, m] : [m, k], -10, 10), ofShape(tb ? [n, k] : [k, n], -10, 10), fc.constant(ta), fc.constant(tb))),
    run: (ops, make, [a, b, ta, tb]) => [ops.matMul(make(a), make(b), ta, tb)],
    bound: accumulate<readonly [HostTensor, HostTensor, boolean, boolean]>(
      ([a, , ta]) => (ta ? a.shape[0]! : a.shape[1]!),
      ([a, b, ta, tb]) => [abs(a), abs(b), ta, tb],
    ),
  }),
  defineCase<readonly [HostTensor, HostTensor, number, 'same' | 'valid']>({
    name: 'conv2d',
    input: fc
      .record({
        n: fc.integer({ min: 1, max: 2 }),
        h: fc.integer({ min: 1, max: 6 }),
        w: fc.integer({ min: 1, max: 6 }),
        c: fc.integer({ min: 1, max: 3 }),
        o: fc.integer({ min: 1, max: 3 }),
        k: fc.integer({ min: 1, max: 3 }),
        stride: fc.integer({ min: 1, max: 2 }),
        padding: fc.constantFrom('same' as const, 'valid' as const),
      })
      .filter((r) => r.padding === 'same' || (r.k <= r.h && r.k <= r.w))
      .chain((r) => fc.tuple(ofShape([r.n, r.h, r.w, r.c], -10, 10), ofShape([r.k, r.k, r.c, r.o], -10, 10), fc.constant(r.stride), fc.constant(r.padding))),
    run: (ops, make, [x, f, s, p]) => [ops.conv2d(make(x), make(f), s, p)],
    bound: accumulate<readonly [HostTensor, HostTensor, number, 'same' | 'valid']>(
      ([, f]) => f.shape[0]! * f.shape[1]! * f.shape[2]!,
      ([x, f, s, p]) => [abs(x), abs(f), s, p],
    ),
  }),
  ...(['max', 'avg'] as const).map((kind) =>
    defineCase<readonly [HostTensor, number, number, 'same' | 'valid']>({
      name: `pool2d (${kind})`,
      input: fc
        .record({
          n: fc.integer({ min: 1, max: 2 }),
          h: fc.integer({ min: 1, max: 7 }),
          w: fc.integer({ min: 1, max: 7 }),
          c: fc.integer({ min: 1, max: 3 }),
          k: fc.integer({ min: 1, max: 3 }),
          stride: fc.integer({ min: 1, max: 3 }),
          padding: fc.constantFrom('same' as const, 'valid' as const),
        })
        .filter((r) => r.padding === 'same' || (r.k <= r.h && r.k <= r.w))
        .chain((r) => fc.tuple(ofShape([r.n, r.h, r.w, r.c], -100, 100), fc.constant(r.k), fc.constant(r.stride), fc.constant(r.padding))),
      run: (ops, make, [x, k, s, p]) => [ops.pool2d(make(x), kind, k, s, p)],
      bound:
        kind === 'max'
          ? exact
          : accumulate<readonly [HostTensor, number, number, 'same' | 'valid']>(
              ([, k]) => k * k,
              ([x, k, s, p]) => [abs(x), k, s, p],
            ),
    }),
  ),
  unaryCase('clone', (ops, x) => ops.clone(x), -1e3, 1e3, exact),
  defineCase<readonly [number[], number]>({
    name: 'fill',
    input: fc.tuple(shapeArb(), valueArb(-1e3, 1e3)),
    run: (ops, _make, [shape, v]) => [ops.fill(shape, v), ops.zeros(shape), ops.ones(shape)],
    bound: exact,
  }),
]

describeEachBackend('Ops conformance against the Float64 reference', (b) => {
  const run = itOn(b)
  for (const c of cases) {
    run(`${c.name} matches the reference on random inputs`, async (ops) => {
      const { rtol, atol } = b.descriptor.tolerance
      await fc.assert(
        fc.asyncProperty(c.input, async (input) => {
          const made: Leaf[] = []
          const make = (h: HostTensor): Leaf => {
            const t = ops.tensor(h.data, h.shape)
            made.push(t)
            return t
          }
          const outs = c.run(ops, make, input as never)
          const refMade: RefTensor[] = []
          const refOuts = c.run(
            referenceOps,
            (h) => {
              const t = referenceOps.tensor(h.data, h.shape)
              refMade.push(t)
              return t
            },
            input as never,
          )
          let scales: Array<ArrayLike<number>> | undefined
          let n = 1
          if (c.bound.kind === 'accumulate') {
            const bound = c.bound as unknown as { n: (i: unknown) => number; absInput: (i: unknown) => unknown }
            n = bound.n(input)
            const absOuts = c.run(referenceOps, (h) => referenceOps.tensor(h.data, h.shape), bound.absInput(input) as never)
            scales = absOuts.map((t) => referenceOps.readSync(t))
            absOuts.forEach((t) => referenceOps.dispose(t))
          } else if (c.bound.kind === 'uniform') {
            const bound = c.bound as unknown as { n: (i: unknown) => number; scales: (i: unknown) => number[] }
            n = bound.n(input)
            scales = bound.scales(input).map((m, k) => new Float64Array(refOuts[k]!.shape.reduce((a, d) => a * d, 1)).fill(m))
          }
          try {
            for (let k = 0; k < outs.length; k++) {
              const got = outs[k]!
              const want = refOuts[k]!
              expect(got.shape, `${c.name}: output ${k} shape`).toEqual(want.shape)
              expect(got.dtype, `${c.name}: output ${k} dtype`).toEqual(want.dtype)
              const gotData = await ops.read(got)
              const wantData = referenceOps.readSync(want)
              if (c.bound.kind === 'exact') {
                expect(zeroSigned(gotData), `${c.name}: output ${k}`).toEqual(zeroSigned(wantData))
              } else {
                const scale = scales?.[k]
                expectAllClose(gotData, wantData, {
                  rtol: rtol + n * U,
                  atol,
                  ...(scale === undefined ? {} : { scale }),
                  label: `${c.name}: output ${k}`,
                })
              }
            }
          } finally {
            ;[...made, ...outs].forEach((t) => ops.dispose(t))
            ;[...refMade, ...refOuts].forEach((t) => referenceOps.dispose(t))
          }
          return true
        }),
        { numRuns: RUNS },
      )
    })
  }

  run('moments of a constant channel give its value exactly and variance 0; BatchNorm then outputs exactly β', async (ops) => {
    // float32 backends only: the Float64 reference is the oracle, not a float32 bit pattern to match
    if (ops.name === 'reference') return
    // layouts [rows, c] (per channel) and [a, c, b] (per group), sizes past one float32 block
    for (const [shape, axes] of [
      [[1000, 3], [0]],
      [
        [4, 130, 3],
        [0, 1],
      ],
      [
        [2, 3, 700],
        [0, 2],
      ],
    ] as Array<[number[], number[]]>) {
      const n = shape.reduce((a, d) => a * d, 1)
      const values = [0.1, -3.7, 1234.567]
      const channelAxis = [0, 1, 2].find((i) => i < shape.length && !axes.includes(i))!
      const data = Array.from({ length: n }, (_, i) => {
        const idx = shape.map((_, k) => Math.floor(i / shape.slice(k + 1).reduce((a, d) => a * d, 1)) % shape[k]!)
        return values[idx[channelAxis]! % values.length]!
      })
      const x = ops.tensor(data, shape)
      const m = ops.moments(x, axes, { keepDims: false, estimator: 'biased' })
      const mean = Array.from(await ops.read(m.mean))
      expect(mean, `mean of constant channels ${JSON.stringify(shape)}`).toEqual(values.slice(0, shape[channelAxis]).map((v) => Math.fround(v)))
      expect(Array.from(await ops.read(m.variance)), `variance of constant channels ${JSON.stringify(shape)}`).toEqual([0, 0, 0].slice(0, shape[channelAxis]))
      ;[x, m.mean, m.variance].forEach((t) => ops.dispose(t))
    }
    const bn = unsafeBatchNorm(ops)
    const x = ops.tensor(
      Array.from({ length: 64 * 2 }, (_, i) => (i % 2 === 0 ? 0.1 : 7.3)),
      [64, 2],
    )
    const state = { params: { gamma: ops.tensor([2, 3], [2]), beta: ops.tensor([0.25, -0.5], [2]) }, stats: bn.init(2).stats }
    const [y] = bn.apply(x, 'train')(state)
    expect(Array.from(await ops.read(y))).toEqual(Array.from({ length: 128 }, (_, i) => (i % 2 === 0 ? 0.25 : -0.5)))
  })
})
