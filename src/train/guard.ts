/**
 * The NaN guard of the training pipelines: the loss is checked every step, params and statistics
 * at evaluation and checkpoint time. On a non-finite value the run either stops (the default: the
 * last good checkpoint is kept, and a `NonFiniteError` names the step and the first non-finite leaf)
 * or warns once and goes on.
 *
 * @module train/guard
 */
import { NonFiniteError } from '../core/errors.js'
import type * as tf from '@tensorflow/tfjs-core'
import { type TreeRecord, leaves } from '../core/tree.js'
import type { TrainState } from './common.js'

/** What the guard does on a non-finite value. */
export type NonFinitePolicy = 'stop' | 'warn'

/** The NaN guard's settings, shared by every pipeline's controls. */
export interface GuardControl {
  /**
   * `'stop'` (default) ends the run at the first non-finite loss or state with a `NonFiniteError`
   * naming the step and the first non-finite leaf; `'warn'` reports it once through `onWarning` and
   * goes on (a non-finite state is still never checkpointed).
   */
  readonly onNonFinite?: NonFinitePolicy
  /** Receives the guard's warning under `onNonFinite: 'warn'`. */
  readonly onWarning?: (message: string) => void
}

/** The first non-finite leaf of `state` (student, teacher, optimizer, in that order), or `undefined`. */
export const firstNonFiniteLeaf = async (state: TrainState): Promise<string | undefined> => {
  const parts: Array<[string, TreeRecord<tf.Tensor>]> = [
    ['student/params', state.student.params],
    ['student/stats', state.student.stats],
    ...(state.teacher === undefined
      ? []
      : ([
          ['teacher/params', state.teacher.params],
          ['teacher/stats', state.teacher.stats],
        ] as Array<[string, TreeRecord<tf.Tensor>]>)),
    ...Object.entries(state.opt).map(([k, v]) => [`opt/${k}`, v] as [string, TreeRecord<tf.Tensor>]),
  ]
  for (const [prefix, tree] of parts) {
    for (const [path, t] of leaves<tf.Tensor>(tree)) {
      if (t.dtype !== 'float32') continue
      const d = await t.data()
      for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i]!)) return `${prefix}/${path}`
    }
  }
  return undefined
}

/** A guard bound to a policy; `warn` receives the message once per run under `'warn'`. */
export const nonFiniteGuard = (policy: NonFinitePolicy = 'stop', warn: (message: string) => void = () => {}) => {
  let warned = false
  const fail = (e: NonFiniteError): void => {
    if (policy === 'stop') throw e
    if (!warned) {
      warned = true
      warn(`${e.message} (continuing: the NaN guard is set to warn)`)
    }
  }
  return {
    /** Checks the step's loss; on a non-finite loss, names the first non-finite leaf of `state` (or the loss itself). */
    loss: async (step: number, loss: number | undefined, state: TrainState): Promise<void> => {
      if (loss === undefined || Number.isFinite(loss)) return
      const leaf = await firstNonFiniteLeaf(state)
      fail(new NonFiniteError(step, leaf ?? 'loss', `the loss is ${loss}${leaf === undefined ? '' : `; '${leaf}' is the first non-finite leaf`}`))
    },
    /** Reports a `NonFiniteError` found elsewhere (the checkpoint encoder's): rethrown under 'stop', warned once under 'warn'. */
    report: (e: NonFiniteError): void => fail(e),
    /** Checks every leaf of `state` (before an evaluation). */
    state: async (step: number, state: TrainState): Promise<boolean> => {
      const leaf = await firstNonFiniteLeaf(state)
      if (leaf === undefined) return true
      fail(new NonFiniteError(step, leaf, 'a parameter or statistic is NaN or infinite'))
      return false
    },
  }
}
