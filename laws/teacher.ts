/**
 * Teacher-update laws (methods.md §5.3, E11), for any function that moves a teacher state toward a
 * student state under a per-leaf policy.
 *
 * @module laws/teacher
 */
import fc from 'fast-check'
import type { Ops } from '../src/core/ops.js'
import type { Leaf } from '../src/core/tree.js'
import type { Slots } from '../src/core/transition.js'
import type { TeacherPolicy } from '../src/ema/teacher.js'
import { type HostTensor, openDecayArb, spreadDataArb, tensorArb } from './arbitraries.js'
import { type Law, closeTo, evaluate, exactlyEqual } from './law.js'

const U = 2 ** -24

/** A teacher update: the new teacher state from the student and the teacher (both borrowed). */
export type TeacherUpdateSubject = <T extends Leaf>(
  ops: Ops<T>,
  student: Slots<unknown, unknown>,
  teacher: Slots<unknown, unknown>,
  decay: number,
  policy: TeacherPolicy,
) => Slots<unknown, unknown>

/** A two-layer state: `backbone/{w,bn}` and `projector/{w}`, with an int32 counter in the BN stats. */
interface HostState {
  readonly backboneW: HostTensor
  readonly projectorW: HostTensor
  readonly mean: HostTensor
  readonly count: number
}

const hostStateArb: fc.Arbitrary<HostState> = fc
  .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }))
  .chain(([a, b]) =>
    fc.record({
      backboneW: tensorArb([a, b], spreadDataArb),
      projectorW: tensorArb([b], spreadDataArb),
      mean: tensorArb([b], spreadDataArb),
      count: fc.integer({ min: 0, max: 1000 }),
    }),
  )

const pairArb = hostStateArb.chain((s) =>
  fc.tuple(
    fc.constant(s),
    fc.record({
      backboneW: tensorArb(s.backboneW.shape, spreadDataArb),
      projectorW: tensorArb(s.projectorW.shape, spreadDataArb),
      mean: tensorArb(s.mean.shape, spreadDataArb),
      count: fc.integer({ min: 0, max: 1000 }),
    }),
    openDecayArb,
  ),
)

const build = (ops: Ops<Leaf>, h: HostState) => ({
  params: { backbone: { w: ops.tensor(h.backboneW.data, h.backboneW.shape) }, projector: { w: ops.tensor(h.projectorW.data, h.projectorW.shape) } },
  stats: { backbone: { bn: { mean: ops.tensor(h.mean.data, h.mean.shape), count: ops.scalar(h.count, 'int32') } } },
})

type Built = ReturnType<typeof build>

/** Under a policy that keeps the backbone and averages the projector: kept leaves are bitwise the teacher's, averaged leaves are `d·t + (1−d)·s`. */
export const teacherKeepAndEma: Law<TeacherUpdateSubject, readonly [HostState, HostState, number]> = {
  name: 'teacher.keepAndEma',
  statement: "'keep' (and masked-out) leaves are exactly the teacher's input leaves; 'ema' leaves are d·teacher + (1−d)·student",
  arbitrary: () => pairArb.map(([t, s, d]) => [t, s, d] as const),
  predicate: (update, { ops, tolerance }) => async ([t, s, d]) => {
    const policy: TeacherPolicy = (_slot, path) => (path.startsWith('projector') ? 'ema' : 'keep')
    const r = await evaluate(ops, () => {
      const next = update(ops, build(ops, s), build(ops, t), d, policy) as Built
      return { w: next.params.backbone.w, mean: next.stats.backbone.bn.mean, p: next.params.projector.w }
    })
    const want = t.projectorW.data.map((v, i) => d * v + (1 - d) * s.projectorW.data[i]!)
    const mag = Math.max(...t.projectorW.data.map(Math.abs), ...s.projectorW.data.map(Math.abs))
    return (
      exactlyEqual(r.w, t.backboneW.data.map(Math.fround)) &&
      exactlyEqual(r.mean, t.mean.data.map(Math.fround)) &&
      closeTo(r.p, want, { rtol: 0, atol: tolerance.atol + 4 * Math.max(U, tolerance.rtol) * mag })
    )
  },
}

/** Integer leaves (step counters) are copied from the student under an `ema` policy, never averaged, and stay int32 (E11). */
export const teacherIntegersCopied: Law<TeacherUpdateSubject, readonly [HostState, HostState, number]> = {
  name: 'teacher.integersCopied',
  statement: "integer leaves are copied from the student (value and int32 dtype) even when the policy says 'ema' (E11)",
  arbitrary: () => pairArb,
  predicate: (update, { ops }) => async ([t, s, d]) => {
    let dtype = ''
    const r = await evaluate(ops, () => {
      const next = update(ops, build(ops, s), build(ops, t), d, () => 'ema') as Built
      dtype = next.stats.backbone.bn.count.dtype
      return { count: next.stats.backbone.bn.count }
    })
    return dtype === 'int32' && r.count[0] === s.count
  },
}

/** A student whose paths or shapes differ from the teacher's is rejected (the update throws). */
export const teacherRejectsMismatch: Law<TeacherUpdateSubject, readonly [HostState, number, 'missing' | 'shape']> = {
  name: 'teacher.rejectsMismatch',
  statement: 'a student with a missing path or a leaf of another shape is rejected with an error, never silently paired by position',
  arbitrary: () => fc.tuple(hostStateArb, openDecayArb, fc.constantFrom('missing' as const, 'shape' as const)),
  predicate: (update, { ops }) => async ([h, d, kind]) => {
    try {
      ops.tidy(() => {
        const teacher = build(ops, h)
        const good = build(ops, h)
        const student =
          kind === 'missing'
            ? { params: { backbone: good.params.backbone }, stats: good.stats }
            : { ...good, params: { ...good.params, projector: { w: ops.zeros([h.projectorW.shape[0]! + 1]) } } }
        update(ops, student, teacher, d, () => 'ema')
      })
      return false
    } catch {
      return true
    }
  },
}

/**
 * EMAN's double EMA (N5): the student's BN running mean follows `r_t = q·r_{t−1} + (1−q)·c` for
 * constant batch statistics `c` (q = the student BN decay), and the EMAN teacher averages it each
 * step with decay `m`; after `T` steps
 *
 *     μ'_T = c + (μ'_0 − c)·m^T + (r_0 − c)·(1−m)·q·(m^T − q^T)/(m − q)      (m ≠ q)
 */
export const teacherEmanDoubleEma: Law<TeacherUpdateSubject, readonly [number, number, number, number, number, number]> = {
  name: 'teacher.emanDoubleEma',
  statement: "EMAN teacher statistics after T steps equal the double-EMA closed form c + (μ'0 − c)m^T + (r0 − c)(1−m)q(m^T − q^T)/(m − q) (N5)",
  arbitrary: () =>
    fc
      .tuple(
        fc.constantFrom(0.9, 0.99, 0.5, 0.8),
        fc.constantFrom(0.9, 0.7, 0.5),
        fc.integer({ min: 1, max: 20 }),
        fc.double({ min: -5, max: 5, noNaN: true }),
        fc.double({ min: -5, max: 5, noNaN: true }),
        fc.double({ min: -5, max: 5, noNaN: true }),
      )
      .filter(([m, q]) => m !== q),
  predicate: (update, { ops, tolerance }) => async ([m, q, T, c, r0, mu0]) => {
    const r = await evaluate(ops, () => {
      let r = Math.fround(r0)
      let teacher: Slots<unknown, unknown> = { params: {}, stats: { bn: { mean: ops.tensor([mu0], [1]) } } }
      for (let t = 0; t < T; t++) {
        r = q * r + (1 - q) * c // the student's BN step comes before the EMA step
        const student = { params: {}, stats: { bn: { mean: ops.tensor([r], [1]) } } }
        teacher = update(ops, student, teacher, m, () => 'ema')
      }
      return { mean: (teacher.stats as { bn: { mean: Leaf } }).bn.mean }
    })
    const mf = ops.name === 'reference' ? m : Math.fround(m)
    const r0f = Math.fround(r0)
    const mu0f = Math.fround(mu0)
    const want = c + (mu0f - c) * mf ** T + ((r0f - c) * (1 - mf) * q * (mf ** T - q ** T)) / (mf - q)
    return closeTo(r.mean, [want], { rtol: Math.max(tolerance.rtol, 1e-5), atol: 1e-5 * Math.max(1, Math.abs(c), Math.abs(r0), Math.abs(mu0)) })
  },
}

/** The teacher-update laws. */
export const teacherLaws = [teacherKeepAndEma, teacherIntegersCopied, teacherRejectsMismatch, teacherEmanDoubleEma] as const
