/**
 * Transitions: every normalizer step and every EMA update in polyak is a pure state transition
 *
 *     (params, stats) -> [report, (params', stats')]
 *
 * i.e. an fp-ts `State<Slots<P, S>, A>`. Because it is a plain fp-ts `State`, transitions compose
 * with `pipe`, `State.map`, `State.flatMap`, `State.traverseArray`, and run with `State.evaluate` /
 * `State.execute`.
 *
 * `transition(ops, body)` is the constructor that makes a body obey the memory policy: it checks that
 * no input leaf is disposed (naming its path), runs the body in `ops.tidy` (intermediates are freed),
 * and clones any input leaf the body passes through, so the output owns all of its tensors and the
 * caller may dispose the input state at once. Wrap an fp-ts composition in `transition` too, so the
 * intermediate states between its steps are freed.
 *
 * @example
 * import { pipe } from 'fp-ts/lib/function.js'
 * import * as State from 'fp-ts/lib/State.js'
 * const twoSteps = transition(ops, pipe(stepA, State.flatMap(() => stepB)))
 * const [report, next] = twoSteps({ params, stats })
 *
 * @module core/transition
 */
import type { State } from 'fp-ts/lib/State.js'
import { assertLive, freshen } from './memory.js'
import type { Ops } from './ops.js'
import { type Leaf, type PathPredicate, type Tree, forEachLeaf, mapAny, select, toPathMap } from './tree.js'

/** A slot with nothing in it: the parameters of a transition that has none (`ema`), the statistics of one that keeps none (GroupNorm). */
export type EmptySlot = Record<string, never>

/** The two slots of a state: learnable parameters and non-learnable statistics (running moments, counters). */
export interface Slots<P, S> {
  readonly params: P
  readonly stats: S
}

/**
 * A pure state transition `(params, stats) -> [report, (params', stats')]` (fp-ts `State`).
 *
 * @typeParam P - the parameter tree
 * @typeParam S - the statistics tree
 * @typeParam A - the report (an output tensor, metrics, or `void`)
 */
export type Transition<P, S, A = void> = State<Slots<P, S>, A>

/** Builds a `Slots` record. */
export const slots = <P, S>(params: P, stats: S): Slots<P, S> => ({ params, stats })

/**
 * Makes a transition from a body, enforcing the memory policy (see the module doc): input leaves
 * must be live (a `DisposedTensorError` names the first disposed path, e.g.
 * `params/backbone/conv1/weight`), the body runs in `ops.tidy`, and pass-through leaves come back
 * cloned. The body must be synchronous.
 */
export const transition =
  <T extends Leaf, P, S, A>(ops: Ops<T>, body: (s: Slots<P, S>) => readonly [A, Slots<P, S>]): Transition<P, S, A> =>
  (s) => {
    assertLive(ops, s.params, 'params')
    assertLive(ops, s.stats, 'stats')
    return ops.tidy(() => {
      const [a, out] = body(s)
      return [freshen(ops, s, a), freshen(ops, s, { params: out.params, stats: out.stats })] as [A, Slots<P, S>]
    })
  }

/**
 * Runs transitions one after the other on the same state and reports their reports as a tuple.
 * Intermediate states are freed.
 *
 * @example
 * const [reports, next] = sequence(ops, bnStep, emaStep)({ params, stats })
 */
export const sequence = <T extends Leaf, P, S, A0, Rest extends ReadonlyArray<Transition<P, S, unknown>>>(
  ops: Ops<T>,
  first: Transition<P, S, A0>,
  ...rest: Rest
): Transition<P, S, [A0, ...{ -readonly [K in keyof Rest]: ReportOf<Rest[K]> }]> =>
  transition(ops, (s0) => {
    let s = s0
    const reports: unknown[] = []
    for (const step of [first, ...rest] as ReadonlyArray<Transition<P, S, unknown>>) {
      const [a, next] = step(s)
      reports.push(a)
      s = next
    }
    return [reports as [A0, ...{ -readonly [K in keyof Rest]: ReportOf<Rest[K]> }], s]
  })

/** The report type of a transition. */
export type ReportOf<X> = X extends (s: never) => readonly [infer A, unknown] ? A : never

/** Any transition, whatever its slots and report (the constraint of `named`'s children). */
export type AnyTransition = (s: never) => readonly [unknown, unknown]

/** The composite state of `named`: each child's params and stats under its own key. */
export type NamedSlots<R extends Record<string, AnyTransition>> = Slots<
  { readonly [K in keyof R]: R[K] extends (s: Slots<infer P, infer _S>) => unknown ? P : never },
  { readonly [K in keyof R]: R[K] extends (s: Slots<infer _P, infer S>) => unknown ? S : never }
>

/** The composite report of `named`. */
export type NamedReports<R extends Record<string, AnyTransition>> = {
  readonly [K in keyof R]: ReportOf<R[K]>
}

/**
 * Runs independent transitions side by side, each on its own part of a composite state
 * `{ params: { a: Pa, b: Pb }, stats: { a: Sa, b: Sb } }` (optax `named_chain`): the composite state
 * stays inspectable and serialisable as one tree.
 *
 * @example
 * const both = named(ops, { encoder: bnStep, projector: emaStep })
 */
export const named = <T extends Leaf, R extends Record<string, AnyTransition>>(ops: Ops<T>, children: R): State<NamedSlots<R>, NamedReports<R>> =>
  transition(ops, (s: NamedSlots<R>) => {
    const params: Record<string, unknown> = {}
    const stats: Record<string, unknown> = {}
    const reports: Record<string, unknown> = {}
    for (const key of Object.keys(children)) {
      const child = children[key] as Transition<unknown, unknown, unknown>
      const [a, next] = child({
        params: (s.params as Record<string, unknown>)[key],
        stats: (s.stats as Record<string, unknown>)[key],
      })
      params[key] = next.params
      stats[key] = next.stats
      reports[key] = a
    }
    return [reports as NamedReports<R>, { params, stats } as NamedSlots<R>]
  })

/**
 * Applies `inner` only to the leaves whose path satisfies `predicate` (in `params` and in `stats`;
 * paths are relative to each slot); every other leaf is returned unchanged (as a clone). The inner
 * transition sees a sub-tree with the same paths (arrays become records keyed by index), so it must
 * be structure-polymorphic (like an EMA over any tree). optax `masked`, nnx `EMA(only=...)`.
 *
 * @example
 * // projector-only: EMA of the projector's leaves, the backbone untouched
 * const projectorEma = masked(ops, underPrefix('projector'), emaStep)
 */
export const masked = <T extends Leaf, P extends Tree<T>, S extends Tree<T>, A>(
  ops: Ops<T>,
  predicate: PathPredicate,
  inner: Transition<Tree<T>, Tree<T>, A>,
): Transition<P, S, A> =>
  transition(ops, (s: Slots<P, S>) => {
    const [a, out] = inner({ params: select(s.params, predicate), stats: select(s.stats, predicate) })
    const mergeBack = (original: Tree<T>, updated: Tree<T>): unknown => {
      const byPath = toPathMap(updated)
      return mapAny(original, (leaf, path) => (predicate(path) ? (byPath.get(path) ?? leaf) : leaf))
    }
    return [a, { params: mergeBack(s.params, out.params) as P, stats: mergeBack(s.stats, out.stats) as S }]
  })
