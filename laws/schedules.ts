/**
 * Schedule laws (docs/methods.md, E13–E17): a schedule is a subject, `step → value`, with the claims
 * it makes — where it starts and ends, in which direction it moves, how it counts steps, and its
 * closed form. BYOL's cosine `τ` from `τ₀` to 1, Momentum² Teacher's BN blend weight from 1 to 0,
 * timm's warm-up and a constant decay are polyak's; a user's own schedule states its claims and is
 * held to them.
 *
 * @module laws/schedules
 */
import fc from 'fast-check'
import type { Law } from './law.js'

/** A schedule under test, with what it claims. */
export interface ScheduleSubject {
  /** The value at step `k`. */
  readonly at: (k: number) => number
  /** The first step the schedule is called with: 0 (polyak's convention) or 1. */
  readonly firstStep: 0 | 1
  /** The value at the first step. */
  readonly start: number
  /** The horizon `K`: the value at `firstStep + K` is `end` (absent: no end point is claimed). */
  readonly horizon?: number
  /** The value at `firstStep + horizon`, and after it when `clamps`. */
  readonly end?: number
  /** Whether steps past the horizon keep the end value (polyak's schedules clamp). */
  readonly clamps?: boolean
  /** The direction over the steps: `'increasing'` and `'decreasing'` are non-strict. */
  readonly monotone: 'increasing' | 'decreasing' | 'constant' | 'none'
  /** The closed form the schedule claims to compute, in float64 (absent: none claimed). */
  readonly closedForm?: (k: number) => number
}

/** Steps to look at: the first step, the horizon and around it, and random steps up to three horizons. */
const stepArb = (s: ScheduleSubject): fc.Arbitrary<number> =>
  fc.oneof(
    fc.constantFrom(
      s.firstStep,
      s.firstStep + 1,
      ...(s.horizon === undefined ? [] : [s.firstStep + s.horizon - 1, s.firstStep + s.horizon, s.firstStep + s.horizon + 1]),
    ),
    fc.integer({ min: s.firstStep, max: s.firstStep + 3 * (s.horizon ?? 1000) }),
  )

const near = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b))

/** `schedule.range`: every value is a number in `[0, 1]` (a decay or a blend weight). */
export const scheduleRange: Law<ScheduleSubject, number> = {
  name: 'schedule.range',
  statement: 'every value s(k), for every step k ≥ firstStep, is a finite number in [0, 1]',
  arbitrary: (s) => stepArb(s),
  predicate: (s) => async (k) => {
    const v = s.at(k)
    if (!(Number.isFinite(v) && v >= 0 && v <= 1)) throw new Error(`s(${k}) = ${v} is outside [0, 1]`)
    return true
  },
}

/** `schedule.endpoints`: `s(firstStep) = start`, and `s(firstStep + K) = end` where a horizon is claimed; with `clamps`, every later step too. */
export const scheduleEndpoints: Law<ScheduleSubject, number> = {
  name: 'schedule.endpoints',
  statement: 's(firstStep) = start; s(firstStep + K) = end; with clamping, s(k) = end for every k ≥ firstStep + K (the step count is 0- or 1-based as claimed)',
  arbitrary: (s) => fc.integer({ min: 0, max: 2 * (s.horizon ?? 10) }),
  predicate: (s) => async (extra) => {
    const first = s.at(s.firstStep)
    if (!near(first, s.start))
      throw new Error(`s(${s.firstStep}) = ${first}, the claimed start is ${s.start} (is the step count ${s.firstStep === 0 ? '1' : '0'}-based?)`)
    if (s.horizon === undefined || s.end === undefined) return true
    const K = s.firstStep + s.horizon
    const atK = s.at(K)
    if (!near(atK, s.end)) throw new Error(`s(${K}) = ${atK}, the claimed end is ${s.end}`)
    if (s.clamps === true && !near(s.at(K + extra), s.end))
      throw new Error(`s(${K + extra}) = ${s.at(K + extra)} after the horizon, the claimed end is ${s.end}`)
    return true
  },
}

/** `schedule.monotone`: consecutive steps move in the claimed direction (non-strictly), or not at all for `'constant'`. */
export const scheduleMonotone: Law<ScheduleSubject, number> = {
  name: 'schedule.monotone',
  statement: "s(k + 1) ≥ s(k) for 'increasing', ≤ for 'decreasing', = for 'constant', at every step k ≥ firstStep",
  arbitrary: (s) => stepArb(s),
  predicate: (s) => async (k) => {
    const [a, b] = [s.at(k), s.at(k + 1)]
    const ok = s.monotone === 'increasing' ? b >= a : s.monotone === 'decreasing' ? b <= a : s.monotone === 'constant' ? b === a : true
    if (!ok) throw new Error(`s(${k}) = ${a}, s(${k + 1}) = ${b}: not ${s.monotone}`)
    return true
  },
}

/** `schedule.closedForm`: the schedule computes the closed form it claims, to float64 rounding. */
export const scheduleClosedForm: Law<ScheduleSubject, number> = {
  name: 'schedule.closedForm',
  statement: 's(k) equals the claimed closed form within 1e-12 (relative) at every step k ≥ firstStep',
  arbitrary: (s) => stepArb(s),
  predicate: (s) => async (k) => {
    if (s.closedForm === undefined) return true
    const [got, want] = [s.at(k), s.closedForm(k)]
    if (!near(got, want)) throw new Error(`s(${k}) = ${got}, the closed form gives ${want}`)
    return true
  },
}

/** The schedule laws. */
export const scheduleLaws = [scheduleRange, scheduleEndpoints, scheduleMonotone, scheduleClosedForm] as const
