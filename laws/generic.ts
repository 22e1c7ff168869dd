/**
 * Laws every transition obeys (purity, shapes and dtypes preserved, no leaks, owned outputs), and
 * backend conformance against the Float64 reference interpreter.
 *
 * @module laws/generic
 */
import { FLOAT32_UNIT_ROUNDOFF } from '../src/core/tolerance.js'
import fc from 'fast-check'
import { disposeTree, tensorLeaves } from '../src/core/memory.js'
import type { Ops } from '../src/core/ops.js'
import { referenceOps } from '../src/core/referenceOps.js'
import type { Leaf } from '../src/core/tree.js'
import type { AnyTransition, Slots } from '../src/core/transition.js'
import { type HostTensor, broadcastShapesArb, shapeArb, spreadDataArb, tensorArb, uniformArb } from './arbitraries.js'
import { type Law, closeTo, exactlyEqual } from './law.js'

/** A transition to check, built for an interpreter: its initial state and a step on an input batch. */
export interface TransitionSubject {
  readonly make: <T extends Leaf>(
    ops: Ops<T>,
  ) => {
    readonly init: () => Slots<unknown, unknown>
    readonly step: (x: T) => AnyTransition
    readonly inputShape: readonly number[]
  }
}

type Step = (s: Slots<unknown, unknown>) => readonly [unknown, Slots<unknown, unknown>]
const stepOf = (m: ReturnType<TransitionSubject['make']>, x: Leaf): Step => m.step(x) as Step

const readAll = async (ops: Ops<Leaf>, value: unknown): Promise<Array<[string, number[], readonly number[], string]>> => {
  const out: Array<[string, number[], readonly number[], string]> = []
  for (const [path, t] of tensorLeaves<Leaf>(value)) out.push([path, Array.from(await ops.read(t)), t.shape, t.dtype])
  return out
}

const sameReadout = (a: Array<[string, number[], readonly number[], string]>, b: Array<[string, number[], readonly number[], string]>): boolean =>
  a.length === b.length && a.every(([p, d, s, t], i) => p === b[i]![0] && exactlyEqual(d, b[i]![1]) && s.join() === b[i]![2].join() && t === b[i]![3])

const inputArb = (subject: TransitionSubject, ops: Ops<Leaf>) => tensorArb(subject.make(ops).inputShape, spreadDataArb)

/** Builds the subject, its initial state and the input tensor, runs `body`, and frees state and input afterwards. */
const withSubject = async <R>(
  subject: TransitionSubject,
  ops: Ops<Leaf>,
  x: HostTensor,
  body: (m: ReturnType<TransitionSubject['make']>, s0: Slots<unknown, unknown>, xt: Leaf) => Promise<R>,
): Promise<R> => {
  const m = subject.make(ops)
  const s0 = m.init()
  const xt = ops.tensor(x.data, x.shape)
  try {
    return await body(m, s0, xt)
  } finally {
    disposeTree(ops, s0)
    ops.dispose(xt)
  }
}

/** Same input twice ⇒ bitwise the same outputs; the input state is unchanged (referential transparency). */
export const transitionPurity: Law<TransitionSubject, HostTensor> = {
  name: 'transition.purity',
  statement: 'running a transition twice on the same state gives bitwise equal outputs, and the input state is left unchanged',
  arbitrary: (subject, { ops }) => inputArb(subject, ops),
  predicate:
    (subject, { ops }) =>
    (x) =>
      withSubject(subject, ops, x, async (m, s0, xt) => {
        const before = await readAll(ops, s0)
        const out1 = stepOf(m, xt)(s0)
        const out2 = stepOf(m, xt)(s0)
        const r1 = await readAll(ops, out1)
        const r2 = await readAll(ops, out2)
        const after = await readAll(ops, s0)
        disposeTree(ops, [out1, out2])
        return sameReadout(r1, r2) && sameReadout(before, after)
      }),
}

/** Every state leaf keeps its path, shape and dtype. */
export const transitionShapes: Law<TransitionSubject, HostTensor> = {
  name: 'transition.shapes',
  statement: 'every leaf of the output state has the path, shape and dtype of the input leaf',
  arbitrary: (subject, { ops }) => inputArb(subject, ops),
  predicate:
    (subject, { ops }) =>
    (x) =>
      withSubject(subject, ops, x, async (m, s0, xt) => {
        const [report, s1] = stepOf(m, xt)(s0)
        const describe = (s: unknown) =>
          tensorLeaves<Leaf>(s)
            .map(([p, t]) => `${p}:${t.shape.join('x')}:${t.dtype}`)
            .join('|')
        const same = describe(s0) === describe(s1)
        disposeTree(ops, [report, s1])
        return same
      }),
}

/**
 * No leaks and owned outputs: a step adds exactly the tensors of its output (state and report) to
 * the live count; disposing the input state leaves the output readable; disposing the output
 * returns the count to where it was.
 */
export const transitionNoLeak: Law<TransitionSubject, HostTensor> = {
  name: 'transition.noLeak',
  statement:
    'live tensors after a step = before + the output’s tensors; disposing the input never invalidates the output; disposing the output restores the count',
  arbitrary: (subject, { ops }) => inputArb(subject, ops),
  predicate:
    (subject, { ops }) =>
    (x) =>
      withSubject(subject, ops, x, async (m, warm, xt) => {
        disposeTree(ops, stepOf(m, xt)(warm)) // backends may cache constants on first use
        const s0 = m.init()
        const before = ops.liveTensors()
        const out = stepOf(m, xt)(s0)
        const outTensors = new Set(tensorLeaves<Leaf>(out).map(([, t]) => t)).size
        const grew = ops.liveTensors() - before
        disposeTree(ops, s0)
        const readable = tensorLeaves<Leaf>(out).every(([, t]) => !ops.isDisposed(t))
        await readAll(ops, out)
        const afterInputs = ops.liveTensors()
        disposeTree(ops, out)
        const restored = ops.liveTensors() === afterInputs - outTensors
        return grew === outTensors && readable && restored
      }),
}

/** The transition laws. */
export const transitionLaws = [transitionPurity, transitionShapes, transitionNoLeak] as const

// -------------------------------------------------------------------------------------------------
// backend conformance

interface Primitive {
  readonly name: string
  readonly inputs: fc.Arbitrary<HostTensor[]>
  readonly run: <T extends Leaf>(ops: Ops<T>, xs: T[]) => T
  /** Terms accumulated per output (for the forward error bound). */
  readonly terms: (xs: HostTensor[]) => number
  /** Inputs whose result bounds the magnitude of every term (default: the absolute values). */
  readonly magnitudes?: (xs: HostTensor[]) => HostTensor[]
}

const PRIMITIVES: readonly Primitive[] = [
  {
    name: 'add',
    inputs: broadcastShapesArb.chain(([a, b]) => fc.tuple(tensorArb(a, spreadDataArb), tensorArb(b, spreadDataArb))),
    run: (ops, [a, b]) => ops.add(a!, b!),
    terms: () => 1,
  },
  {
    name: 'mul',
    inputs: broadcastShapesArb.chain(([a, b]) => fc.tuple(tensorArb(a, spreadDataArb), tensorArb(b, spreadDataArb))),
    run: (ops, [a, b]) => ops.mul(a!, b!),
    terms: () => 1,
  },
  {
    name: 'axpby',
    inputs: broadcastShapesArb.chain(([a, b]) => fc.tuple(tensorArb(a, spreadDataArb), tensorArb(b, spreadDataArb))),
    run: (ops, [a, b]) => ops.axpby(0.999, a!, 1 - 0.999, b!),
    terms: () => 2,
  },
  {
    name: 'rsqrt',
    inputs: shapeArb(1, 3, 5).chain((s) => fc.tuple(tensorArb(s, (n) => spreadDataArb(n).map((d) => d.map((v) => Math.abs(v) + 0.01))))),
    run: (ops, [x]) => ops.rsqrt(x!),
    terms: () => 1,
  },
  {
    name: 'moments',
    inputs: shapeArb(2, 3, 5).chain((s) => fc.tuple(tensorArb([s[0]! + 1, ...s.slice(1)], spreadDataArb))),
    run: (ops, [x]) => ops.moments(x!, [0], { estimator: 'unbiased' }).variance,
    terms: ([x]) => 2 * x!.shape[0]!,
  },
  ...([-1, 0] as const).map((which): Primitive => ({
    // every axis but one reduced, the BatchNorm (channels last) and OIHW filter (first) cases: the fused per-channel kernel where a backend has one
    name: `moments per channel (${which === 0 ? 'first' : 'last'} axis)`,
    // one reduced axis grows by one, so every channel has at least two values
    inputs: shapeArb(2, 4, 5).chain((s) =>
      fc.tuple(
        tensorArb(
          s.map((d, i) => (i === (which === 0 ? s.length - 1 : 0) ? d + 1 : d)),
          spreadDataArb,
        ),
      ),
    ),
    run: (ops, [x]) => {
      const axis = which === 0 ? 0 : x!.shape.length - 1
      const m = ops.moments(
        x!,
        x!.shape.map((_, i) => i).filter((i) => i !== axis),
        { estimator: 'unbiased' },
      )
      return ops.concat([m.mean, m.variance], 0)
    },
    terms: ([x]) => 2 * (x!.data.length / x!.shape[which === 0 ? 0 : x!.shape.length - 1]!),
  })),
  {
    name: 'normalize',
    inputs: fc.tuple(shapeArb(1, 4, 5), fc.nat()).chain(([s, k]) => {
      const axis = k % s.length
      const coef = s.map((d, i) => (i === axis ? d : 1))
      return fc.tuple(tensorArb(s, spreadDataArb), tensorArb(coef, spreadDataArb), tensorArb(coef, spreadDataArb), tensorArb(coef, spreadDataArb))
    }),
    run: (ops, [x, c, s, o]) => ops.normalize(x!, c!, s!, o!),
    terms: () => 3,
    // (|x| + |c|)·|s| + |o|: the subtraction's terms, not their difference
    magnitudes: (xs) => xs.map((h, i) => ({ ...h, data: h.data.map((v) => (i === 1 ? -Math.abs(v) : Math.abs(v))) })),
  },
  {
    name: 'matMul',
    inputs: fc
      .tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 5 }))
      .chain(([m, k, n]) => fc.tuple(tensorArb([m, k], spreadDataArb), tensorArb([k, n], spreadDataArb))),
    run: (ops, [a, b]) => ops.matMul(a!, b!),
    terms: ([a]) => a!.shape[1]!,
  },
  {
    name: 'conv2d',
    inputs: fc
      .tuple(fc.integer({ min: 2, max: 5 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }))
      .chain(([h, c, o]) => fc.tuple(tensorArb([1, h, h, c], spreadDataArb), tensorArb([2, 2, c, o], spreadDataArb))),
    run: (ops, [x, f]) => ops.conv2d(x!, f!, 1, 'same'),
    terms: ([, f]) => 4 * f!.shape[2]!,
  },
]

const U = FLOAT32_UNIT_ROUNDOFF

/**
 * Backend conformance: representative primitives (elementwise with broadcasting, `axpby`, `rsqrt`,
 * unbiased `moments` (over a leading axis, and per channel, first and last), `normalize`, `matMul`, `conv2d`) agree with the Float64 reference within the backend's
 * tolerance plus the forward error bound `n·u·Σ|terms|`.
 */
export const backendConformance: Law<Ops<Leaf>, readonly [number, HostTensor[]]> = {
  name: 'backend.conformance',
  statement: 'each primitive agrees with the Float64 reference: |got − want| ≤ atol + (rtol + n·u)·scale, scale = the primitive on |inputs|',
  arbitrary: () => fc.integer({ min: 0, max: PRIMITIVES.length - 1 }).chain((i) => fc.tuple(fc.constant(i), PRIMITIVES[i]!.inputs)),
  predicate:
    (ops, { tolerance }) =>
    async ([i, xs]) => {
      const p = PRIMITIVES[i]!
      const made = xs.map((h) => ops.tensor(h.data, h.shape))
      const y = p.run(ops, made)
      try {
        const got = Array.from(await ops.read(y))
        const want = referenceOps.tidy(() =>
          Array.from(
            referenceOps.readSync(
              p.run(
                referenceOps,
                xs.map((h) => referenceOps.tensor(h.data, h.shape)),
              ),
            ),
          ),
        )
        const scale = referenceOps.tidy(() =>
          Array.from(
            referenceOps.readSync(
              p.run(
                referenceOps,
                (p.magnitudes?.(xs) ?? xs.map((h) => ({ ...h, data: h.data.map(Math.abs) }))).map((h) => referenceOps.tensor(h.data, h.shape)),
              ),
            ),
          ).map((v) => Math.max(Math.abs(v), 1e-30)),
        )
        const scaleFor = p.name.startsWith('moments')
          ? scale.map(() => Math.max(...xs[0]!.data.map((v) => Math.max(4 * v * v, Math.abs(v)))))
          : p.name === 'rsqrt'
            ? want.map(Math.abs)
            : scale
        return closeTo(got, want, { rtol: tolerance.rtol + p.terms(xs) * U, atol: tolerance.atol }, scaleFor)
      } finally {
        made.forEach((t) => ops.dispose(t))
        ops.dispose(y)
      }
    },
}

/**
 * Buffer donation (`axpby(…, {donate})`): without donation the inputs are never touched; with it,
 * the result equals the undonated result bitwise and the other operand is untouched, whether or
 * not the interpreter reused `x`'s storage.
 */
export const axpbyDonation: Law<Ops<Leaf>, readonly [HostTensor, HostTensor, number]> = {
  name: 'backend.axpbyDonation',
  statement:
    'axpby without donation leaves x and y untouched; with donation the result equals the undonated result bitwise, y is untouched, and ops that saw x before (a matMul with it as weights) compute with the new values',
  arbitrary: () => shapeArb(1, 3, 6).chain((sh) => fc.tuple(tensorArb(sh, spreadDataArb), tensorArb(sh, spreadDataArb), uniformArb(0.01, 0.99))),
  predicate:
    (ops) =>
    async ([x, y, d]) => {
      const xt = ops.tensor(x.data, x.shape)
      const yt = ops.tensor(y.data, y.shape)
      const xd = ops.tensor(x.data, x.shape)
      try {
        const x0 = await ops.read(xt)
        const y0 = await ops.read(yt)
        const plain = ops.axpby(d, xt, 1 - d, yt)
        const untouched = exactlyEqual(await ops.read(xt), x0) && exactlyEqual(await ops.read(yt), y0)
        // a product with x as its weights first: backends may cache work per tensor (tfjs-wasm's
        // XNNPACK packs matMul and conv weights once per tensor id)
        const n = x.data.length
        const ones = ops.ones([2, n])
        const product = (w: Leaf) => ops.tidy(() => ops.matMul(ones, ops.reshape(w, [n, 1])))
        const warm = product(xd)
        await ops.read(warm)
        ops.dispose(warm)
        const donated = ops.axpby(d, xd, 1 - d, yt, { donate: true })
        const want = await ops.read(plain)
        const same = exactlyEqual(await ops.read(donated), want)
        const yStill = exactlyEqual(await ops.read(yt), y0)
        ops.dispose(xd) // the caller disposes the donated input; the result must survive it
        const survives = exactlyEqual(await ops.read(donated), want)
        const [pd, pp] = [product(donated), product(plain)]
        const fresh = exactlyEqual(await ops.read(pd), await ops.read(pp))
        ;[pd, pp, ones, plain, donated].forEach((t) => ops.dispose(t))
        return untouched && same && yStill && survives && fresh
      } finally {
        ops.dispose(xt)
        ops.dispose(yt)
        ops.dispose(xd)
      }
    },
}
