/**
 * EMA laws (docs/methods.md), for any one-tensor EMA step
 *
 *     step(ops, avg, x, d) = d·avg + (1 − d)·x        (d = decay, weight on the OLD value)
 *
 * and for the stateful, optionally debiased `Ema` transformation.
 *
 * @module laws/ema
 */
import { FLOAT32_UNIT_ROUNDOFF } from '../src/core/tolerance.js'
import fc from 'fast-check'
import type { Ema } from '../src/ema/ema.js'
import type { Ops } from '../src/core/ops.js'
import type { Leaf } from '../src/core/tree.js'
import { type HostTensor, decayArb, openDecayArb, shapeArb, spreadDataArb, tensorArb, valueArb } from './arbitraries.js'
import { type Law, closeTo, evaluate, exactlyEqual, leavesInputsUntouched } from './law.js'

const U = FLOAT32_UNIT_ROUNDOFF

/** A one-tensor EMA step, generic in the interpreter. */
export type EmaStep = <T extends Leaf>(ops: Ops<T>, avg: T, x: T, decay: number) => T

const pairArb = (data = spreadDataArb): fc.Arbitrary<readonly [HostTensor, HostTensor]> =>
  shapeArb(1, 3, 4).chain((s) => fc.tuple(tensorArb(s, data), tensorArb(s, data)))

const make = (ops: Ops<Leaf>, h: HostTensor): Leaf => ops.tensor(h.data, h.shape)
const maxAbs = (...xs: ReadonlyArray<readonly number[]>): number => Math.max(0, ...xs.flatMap((x) => x.map(Math.abs)))

/** `d = 1` ⇒ `step(θ, x, 1) = θ` bitwise, for finite `x` (E1). */
export const emaIdentity: Law<EmaStep, readonly [HostTensor, HostTensor]> = {
  name: 'ema.identity',
  statement: 'decay 1 leaves the average unchanged, bitwise: step(θ, x, 1) = θ (E1)',
  arbitrary: () => pairArb(),
  predicate:
    (step, { ops }) =>
    async ([theta, x]) => {
      const r = await evaluate(ops, () => ({ out: step(ops, make(ops, theta), make(ops, x), 1), theta: make(ops, theta) }))
      return exactlyEqual(r.out, r.theta)
    },
}

/** `d = 0` ⇒ `step(θ, x, 0) = x` bitwise (E2). */
export const emaCopy: Law<EmaStep, readonly [HostTensor, HostTensor]> = {
  name: 'ema.copy',
  statement: 'decay 0 gives the target, bitwise: step(θ, x, 0) = x (E2); the one-sided lerp θ + (1−d)(x−θ) fails this for |θ| ≫ |x|',
  arbitrary: () =>
    pairArb((n) => fc.array(valueArb(-1, 1), { minLength: n, maxLength: n }).map((xs) => xs.map((v, i) => (i % 2 === 0 ? Math.fround(v * 1e6) : v)))),
  predicate:
    (step, { ops }) =>
    async ([theta, x]) => {
      const r = await evaluate(ops, () => ({ out: step(ops, make(ops, theta), make(ops, x), 0), x: make(ops, x) }))
      return exactlyEqual(r.out, r.x)
    },
}

/** The step leaves its inputs untouched, bitwise: no in-place write into `avg` or `x`, neither disposed (E12). */
export const emaInputsUntouched: Law<EmaStep, readonly [readonly [HostTensor, HostTensor], number]> = {
  name: 'ema.inputsUntouched',
  statement: 'step(avg, x, d) leaves avg and x as they were, bitwise, and alive: outputs are fresh (E12)',
  arbitrary: () => fc.tuple(pairArb(), openDecayArb),
  predicate:
    (step, { ops }) =>
    async ([[avg, x], d]) => {
      const inputs = [make(ops, avg), make(ops, x)]
      try {
        return await leavesInputsUntouched(ops, inputs, () => step(ops, inputs[0]!, inputs[1]!, d))
      } finally {
        inputs.forEach((t) => ops.dispose(t))
      }
    },
}

/** `θ = x` ⇒ `step(x, x, d) = x` within 2 ulp (E3). */
export const emaFixedPoint: Law<EmaStep, readonly [HostTensor, number]> = {
  name: 'ema.fixedPoint',
  statement: 'a constant input is a fixed point: step(x, x, d) = x within 2 ulp (E3)',
  arbitrary: () =>
    fc.tuple(
      shapeArb(1, 3, 4).chain((s) => tensorArb(s, spreadDataArb)),
      decayArb,
    ),
  predicate:
    (step, { ops, tolerance }) =>
    async ([x, d]) => {
      const r = await evaluate(ops, () => ({ out: step(ops, make(ops, x), make(ops, x), d), x: make(ops, x) }))
      return closeTo(r.out, r.x, { rtol: Math.max(4 * U, tolerance.rtol), atol: tolerance.atol })
    },
}

/**
 * `k` steps toward a constant `c` from `θ0`: `θ_k = m^k·θ0 + (1 − m^k)·c` (E4), with the float32
 * bound `|err| ≤ 4·u·max(|θ0|, |c|)·min(k, 1/(1 − m)) + 2 ulp`, `m` rounded to float32 in the oracle.
 * Catches the swapped convention (weight on the new value) and a plain average.
 */
export const emaClosedForm: Law<EmaStep, readonly [HostTensor, HostTensor, number, number]> = {
  name: 'ema.closedForm',
  statement: 'k steps toward a constant c: θ_k = m^k·θ0 + (1 − m^k)·c within 4·u·max|·|·min(k, 1/(1−m)) + 2 ulp (E4)',
  arbitrary: () =>
    shapeArb(1, 2, 4).chain((s) => fc.tuple(tensorArb(s, spreadDataArb), tensorArb(s, spreadDataArb), openDecayArb, fc.integer({ min: 1, max: 30 }))),
  predicate:
    (step, { ops, tolerance }) =>
    async ([theta0, c, m, k]) => {
      const r = await evaluate(ops, () => {
        let avg = make(ops, theta0)
        const target = make(ops, c)
        for (let i = 0; i < k; i++) avg = step(ops, avg, target, m)
        return { avg }
      })
      const mf = ops.name === 'reference' ? m : Math.fround(m)
      const want = theta0.data.map((t0, i) => mf ** k * t0 + (1 - mf ** k) * c.data[i]!)
      const mag = maxAbs(theta0.data, c.data)
      const bound = ops.name === 'reference' ? tolerance.atol + tolerance.rtol * mag * k : 4 * U * mag * Math.min(k, 1 / (1 - m)) + 4 * U * mag + tolerance.atol
      return closeTo(r.avg, want, { rtol: 0, atol: bound })
    },
}

/** Every element of the result lies between the old and the new value, within 2 ulp (E6). */
export const emaConvexity: Law<EmaStep, readonly [HostTensor, HostTensor, number]> = {
  name: 'ema.convexity',
  statement: 'each element of step(θ, x, d) lies in [min(θ, x), max(θ, x)] within 2 ulp, for d in [0, 1] (E6)',
  arbitrary: () => pairArb().chain(([a, b]) => decayArb.map((d) => [a, b, d] as const)),
  predicate:
    (step, { ops, tolerance }) =>
    async ([theta, x, d]) => {
      const r = await evaluate(ops, () => ({ out: step(ops, make(ops, theta), make(ops, x), d) }))
      return r.out.every((v, i) => {
        const lo = Math.min(theta.data[i]!, x.data[i]!)
        const hi = Math.max(theta.data[i]!, x.data[i]!)
        const slack = tolerance.atol + 2 * Math.max(U, tolerance.rtol) * Math.max(Math.abs(lo), Math.abs(hi))
        return v >= lo - slack && v <= hi + slack
      })
    },
}

/**
 * Order matters: `step(step(θ, x1), x2) − step(step(θ, x2), x1) = (1 − m)²·(x2 − x1)` (E8); a
 * "plain average" or order-blind update fails it.
 */
export const emaOrder: Law<EmaStep, readonly [HostTensor, HostTensor, HostTensor, number]> = {
  name: 'ema.order',
  statement: 'step(step(θ,x1),x2) − step(step(θ,x2),x1) = (1−m)²·(x2 − x1) (E8)',
  arbitrary: () =>
    shapeArb(1, 2, 4).chain((s) => fc.tuple(tensorArb(s, spreadDataArb), tensorArb(s, spreadDataArb), tensorArb(s, spreadDataArb), openDecayArb)),
  predicate:
    (step, { ops, tolerance }) =>
    async ([theta, x1, x2, m]) => {
      const r = await evaluate(ops, () => {
        const t = make(ops, theta)
        const a = step(ops, step(ops, t, make(ops, x1), m), make(ops, x2), m)
        const b = step(ops, step(ops, t, make(ops, x2), m), make(ops, x1), m)
        return { a, b }
      })
      const mag = maxAbs(theta.data, x1.data, x2.data)
      const want = x1.data.map((v, i) => (1 - m) ** 2 * (x2.data[i]! - v))
      const got = r.a.map((v, i) => v - r.b[i]!)
      return closeTo(got, want, { rtol: 0, atol: 8 * Math.max(U, tolerance.rtol) * mag + tolerance.atol })
    },
}

/** The laws of a one-tensor EMA step. */
export const emaStepLaws = [emaIdentity, emaCopy, emaFixedPoint, emaClosedForm, emaConvexity, emaOrder, emaInputsUntouched] as const

/** A stateful EMA (`ema(...)`) constructor with its decay, for the debias law. */
export interface EmaTransformSubject {
  readonly make: <T extends Leaf>(ops: Ops<T>, decay: number) => Ema<T>
}

/**
 * Zero-init with debias: after `k` updates with a constant `c`, the stored average is
 * `(1 − m^k)·c` (never debiased) and the reported value is `c` (optax `test_ema_debias`, haiku).
 */
export const emaDebias: Law<EmaTransformSubject, readonly [HostTensor, number, number]> = {
  name: 'ema.debias',
  statement: 'zero-init, debiased, constant input c: stored average = (1 − m^k)·c, reported value = c, for every k',
  arbitrary: () =>
    fc.tuple(
      shapeArb(1, 2, 4).chain((s) => tensorArb(s, spreadDataArb)),
      openDecayArb,
      fc.integer({ min: 1, max: 10 }),
    ),
  predicate:
    (subject, { ops, tolerance }) =>
    async ([c, m, k]) => {
      const avg = subject.make(ops, m)
      const r = await evaluate(ops, () => {
        const x = { w: make(ops, c) }
        let s = avg.init(x)
        let reported: Leaf | undefined
        for (let i = 0; i < k; i++) {
          const [rep, next] = avg.update(x)(s)
          reported = rep.w
          s = next
        }
        return { stored: s.stats.average.w, reported: reported! }
      })
      const mf = ops.name === 'reference' ? m : Math.fround(m)
      const tol = { rtol: Math.max(tolerance.rtol, 64 * U) * k, atol: tolerance.atol + 64 * U * maxAbs(c.data) }
      return (
        closeTo(
          r.stored,
          c.data.map((v) => (1 - mf ** k) * v),
          tol,
        ) && closeTo(r.reported, c.data, tol)
      )
    },
}
