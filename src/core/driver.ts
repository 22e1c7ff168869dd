/**
 * Drivers run a transition many times and own the lifetimes of the states in between: state `t−1`
 * is disposed as soon as state `t` exists, so a training loop written with a driver holds one state
 * at a time and contains no manual `dispose`. The initial state is borrowed (never disposed); the
 * final state is returned owned by the caller, with `Symbol.dispose` attached for `using`.
 *
 * @module core/driver
 */
import { InvalidArgumentError } from './errors.js'
import { type Owned, cloneTree, disposeTree, owned } from './memory.js'
import type { Ops } from './ops.js'
import type { Leaf, Tree } from './tree.js'
import type { Slots, Transition } from './transition.js'

/** Options of `run` and `scan`. */
export interface DriverOptions<P, S, A> {
  /**
   * Called after each step with the step's report, its 0-based index and the new state (borrowed:
   * valid only during the call). Use it for progress and metrics.
   */
  readonly onStep?: (report: A, index: number, state: Slots<P, S>) => void
  /**
   * Keep each step's report in the result (default `true`). Reports that hold tensors are owned by
   * the caller; pass `false` (and read what you need in `onStep`) to keep memory flat.
   */
  readonly collectReports?: boolean
  /** Called with each report that is not collected, to free it (default: dispose its tensors). */
  readonly disposeReport?: (report: A) => void
}

/** What a driver returns: the final state (owned, disposable) and the collected reports. */
export interface DriverResult<P, S, A> {
  readonly state: Owned<Slots<P, S>>
  readonly reports: readonly A[]
}

/**
 * Runs `step` on `inputs[0], inputs[1], ...` threading the state: `s_{t+1} = step(x_t)(s_t)`.
 * Disposes every intermediate state; `s0` is borrowed and left alive.
 *
 * @example
 * const { state, reports } = scan(ops, batches, (x) => bn.apply(x, 'train'), s0)
 */
export const scan = <T extends Leaf, P, S, X, A>(
  ops: Ops<T>,
  inputs: Iterable<X>,
  step: (x: X, index: number) => Transition<P, S, A>,
  s0: Slots<P, S>,
  options: DriverOptions<P, S, A> = {},
): DriverResult<P, S, A> => {
  const collect = options.collectReports ?? true
  const disposeReport = options.disposeReport ?? ((r: A) => disposeTree(ops, r))
  const reports: A[] = []
  let s = s0
  let i = 0
  try {
    for (const x of inputs) {
      const [a, next] = step(x, i)(s)
      if (s !== s0) disposeTree(ops, s)
      s = next
      options.onStep?.(a, i, s)
      if (collect) reports.push(a)
      else disposeReport(a)
      i += 1
    }
  } catch (e) {
    if (s !== s0) disposeTree(ops, s)
    reports.forEach((r) => disposeTree(ops, r))
    throw e
  }
  // The final state is owned by the caller even when no step ran (then it is a clone of s0).
  const final: Slots<P, S> = s === s0 ? { params: cloneTree(ops, s0.params as Tree<T>) as P, stats: cloneTree(ops, s0.stats as Tree<T>) as S } : s
  return { state: owned(ops, final), reports }
}

/**
 * Runs `step` `steps` times: `s_{t+1} = step(s_t)`. Disposes every intermediate state; `s0` is
 * borrowed.
 *
 * @example
 * const { state } = run(ops, emaStep, s0, 1000)
 */
export const run = <T extends Leaf, P, S, A>(
  ops: Ops<T>,
  step: Transition<P, S, A>,
  s0: Slots<P, S>,
  steps: number,
  options: DriverOptions<P, S, A> = {},
): DriverResult<P, S, A> => {
  if (!Number.isInteger(steps) || steps < 0) {
    throw new InvalidArgumentError('run: steps', `must be a non-negative integer, got ${steps}`)
  }
  return scan(ops, range(steps), () => step, s0, options)
}

function* range(n: number): Iterable<number> {
  for (let i = 0; i < n; i++) yield i
}
