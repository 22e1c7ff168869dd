/**
 * Exponential moving averages with optax / haiku semantics.
 *
 *     avg_t = d_t·avg_{t−1} + (1 − d_t)·x_t        (d = decay: the weight on the OLD value)
 *
 * computed as `axpby(d, avg, 1 − d, x)` with `1 − d` in float64, so `d = 1` returns `avg` and
 * `d = 0` returns `x` exactly (docs/methods.md, laws E1/E2). `emaLeaf` is the primitive every
 * running statistic in polyak uses (BatchNorm, EMAN, teacher updates); `ema` is the stateful
 * transformation over whole trees.
 *
 * @module ema/ema
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { type ConfigError, DecaySpec, decodeConfig, unsafe } from '../codecs/config.js'
import type { Ops } from '../core/ops.js'
import { type Leaf, type Tree, fromLeaves, mapAny, zipWith } from '../core/tree.js'
import { type EmptySlot, type Slots, type Transition, transition } from '../core/transition.js'
import { type Schedule, decayAt } from './schedules.js'

/**
 * One EMA step on one tensor: `decay·avg + (1 − decay)·x`, exact at `decay ∈ {0, 1}`.
 *
 * At `decay = 1` the result is a copy of `avg` even when `x` holds NaN or ±Inf (the update is
 * skipped rather than computing `0·x`); at `decay = 0` it is a copy of `x`. With `donate`, `avg`'s
 * storage may be reused for the result (see `AxpbyOptions`): pass it only when `avg` is dead.
 */
export const emaLeaf = <T extends Leaf>(ops: Ops<T>, avg: T, x: T, decay: number, donate = false): T => {
  if (decay === 1) return ops.clone(avg)
  if (decay === 0) return ops.clone(x)
  return ops.axpby(decay, avg, 1 - decay, x, { donate })
}

/**
 * `emaLeaf` over many tensors at once: `avg_i ← decay·avg_i + (1 − decay)·x_i` for every `i`, as one
 * `axpbyMany` (a few dispatches for a whole model where the backend has the multi-tensor kernel).
 * Exact at `decay ∈ {0, 1}` as `emaLeaf`; with `donate`, every `avg_i` may take its result.
 */
export const emaLeaves = <T extends Leaf>(ops: Ops<T>, avgs: readonly T[], xs: readonly T[], decay: number, donate = false): T[] => {
  if (decay === 1) return avgs.map((a) => ops.clone(a))
  if (decay === 0) return xs.map((x) => ops.clone(x))
  return ops.axpbyMany(decay, avgs, 1 - decay, xs, { donate })
}

/** The largest value of the step counter; it saturates there instead of overflowing (optax `safe_increment`, int32). */
export const MAX_COUNT = 2 ** 31 - 1

/**
 * The state of `ema`: the stored (never debiased) average and two host-side numbers, the number
 * of updates `count` (saturating at `MAX_COUNT`) and `decayProduct = Π d_t` (1 before any update),
 * from which the bias correction `1 − Π d_t` is computed in float64.
 */
export interface EmaStats<A> {
  readonly average: A
  readonly count: number
  readonly decayProduct: number
}

/** `ema`'s state has no parameters (`EmptySlot`). */
export type NoParams = EmptySlot

/** Configuration of `ema`. */
export interface EmaConfig {
  /** Decay (weight on the old value) or a schedule of it, evaluated at the update's 0-based index. */
  readonly decay: DecaySpec
  /** `'copy'`: the average starts as the first value given to `init` (BYOL/EMAN/timm). `'zeros'`: starts at 0 (optax/haiku). Default `'zeros'`. */
  readonly init?: 'copy' | 'zeros'
  /** Report `avg / (1 − Π d_t)` instead of `avg` (zero-init bias correction; the state is never debiased). Default `false`; requires `init: 'zeros'`. */
  readonly debias?: boolean
}

/** An EMA over trees of tensors `T`: optax's `(init, update)` pair as polyak transitions. */
export interface Ema<T extends Leaf> {
  /** The initial state for a tree shaped like `value` (zeros or a copy of it). Never updates anything. */
  readonly init: <A extends Tree<T>>(value: A) => Slots<NoParams, EmaStats<A>>
  /**
   * One update with the new value `x`: stores `d·avg + (1 − d)·x` (paired by path, shapes checked)
   * and reports the average, debiased if configured.
   */
  readonly update: <A extends Tree<T>>(x: A) => Transition<NoParams, EmaStats<A>, A>
}

const fields = {
  decay: DecaySpec,
  init: t.keyof({ copy: null, zeros: null }),
  debias: t.boolean,
}

/**
 * An exponential moving average over a tree (optax `ema`, haiku `ExponentialMovingAverage`).
 *
 *     avg_t = d_t·avg_{t−1} + (1 − d_t)·x_t,   reported: avg_t / (1 − Π_{s≤t} d_s) if debias
 *
 * | | polyak | optax `ema` | haiku EMA | timm / EMAN teacher |
 * | --- | --- | --- | --- | --- |
 * | init | `'zeros'` (default) or `'copy'` | zeros | zeros | copy |
 * | debias | off by default | on by default | on by default | none |
 *
 * `init: 'copy'` with `debias` is rejected: bias correction undoes a zero start, which a copy does
 * not have. A schedule and `debias` combine correctly because the correction uses `Π d_t`.
 *
 * @example
 * const avg = unsafeEma(ops, { decay: 0.99, debias: true })
 * const s0 = avg.init(params)
 * const [reported, s1] = avg.update(params)(s0)   // reported == params (debiased, one step)
 */
export const ema = <T extends Leaf>(ops: Ops<T>, config: EmaConfig): E.Either<ConfigError, Ema<T>> =>
  E.map((c: { decay: DecaySpec; init: 'copy' | 'zeros'; debias: boolean }) => makeEma<T>(ops, c.decay, c.init, c.debias))(
    decodeConfig('ema config', fields, { decay: undefined as never, init: 'zeros', debias: false }, config, (c) =>
      c.debias && c.init === 'copy'
        ? [
            {
              field: 'debias',
              value: true,
              message: "bias correction undoes a zero initialisation; with init 'copy' there is no bias: use init 'zeros' or debias false",
            },
          ]
        : [],
    ),
  )

/** `ema` that throws the `ConfigError` instead of returning it. */
export const unsafeEma = <T extends Leaf>(ops: Ops<T>, config: EmaConfig): Ema<T> => unsafe(ema<T>(ops, config))

const makeEma = <T extends Leaf>(ops: Ops<T>, spec: DecaySpec, init: 'copy' | 'zeros', debias: boolean): Ema<T> => {
  return {
    init: <A extends Tree<T>>(value: A) =>
      ops.tidy(() => ({
        params: {} as NoParams,
        stats: {
          average: mapAny(value, (leaf) => (init === 'copy' ? ops.clone(leaf as T) : ops.zeros((leaf as T).shape, 'float32'))) as A,
          count: 0,
          decayProduct: 1,
        },
      })),
    update: <A extends Tree<T>>(x: A) =>
      transition(ops, (s: Slots<NoParams, EmaStats<A>>) => {
        const k = s.stats.count
        const d = decayAt(spec, k, 'ema: decay')
        // paired by path (structure and shapes checked), then one multi-tensor step over all the pairs
        const avgs: T[] = []
        const xs: T[] = []
        const layout: unknown = zipWith<Tree<T>, T, T>(s.stats.average, x, (avg, xi) => {
          avgs.push(avg)
          xs.push(xi)
          return avg
        })
        // fromLeaves rebuilds the tree `layout` (A's own structure, zipped above) from its leaves: the same shape as A, which TypeScript cannot follow through the zip
        const average = fromLeaves(layout as Tree<T>, emaLeaves(ops, avgs, xs, d)) as unknown as A
        const decayProduct = s.stats.decayProduct * d
        const correction = 1 - decayProduct
        // The report is owned separately from the state (disposing one never frees the other).
        const reported = mapAny(average, (leaf) => (debias && correction > 0 ? ops.scale(leaf as T, 1 / correction) : ops.clone(leaf as T))) as A
        return [reported, { params: s.params, stats: { average, count: Math.min(k + 1, MAX_COUNT), decayProduct } }]
      }),
  }
}

export type { Schedule }
