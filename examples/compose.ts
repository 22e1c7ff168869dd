/**
 * The README's composition example, type-checked with the project and runnable:
 * `npx tsc -p tsconfig.json && node dist/examples/compose.js` is not needed; `npm test` runs it.
 */
import { pipe } from 'fp-ts/lib/function.js'
import * as State from 'fp-ts/lib/State.js'
import { type Leaf, type Ops, type Transition, run, transition } from 'polyak'
import { unsafeUseBackend } from 'polyak/backends'

/** w ← decay·w + (1 − decay)·target; count ← count + 1; reports the change of w. */
const emaToward = <T extends Leaf>(ops: Ops<T>, target: T, decay: number): Transition<{ w: T }, { count: T }, T> =>
  transition(ops, ({ params, stats }) => {
    const w = ops.axpby(decay, params.w, 1 - decay, target)
    return [ops.sub(w, params.w), { params: { w }, stats: { count: ops.add(stats.count, ops.scalar(1, 'int32')) } }]
  })

/** Runs the example on `backend` and returns the final weights and count. */
export const main = async (backend = 'wasm'): Promise<{ w: number[]; count: number; twoSteps: number[] }> => {
  const { ops } = await unsafeUseBackend(backend)
  const step = emaToward(ops, ops.tensor([1, 1], [2]), 0.9)
  const twoSteps = transition(
    ops,
    pipe(
      step,
      State.flatMap(() => step),
    ),
  )

  const s0 = { params: { w: ops.tensor([0, 10], [2]) }, stats: { count: ops.scalar(0, 'int32') } }
  const [, s2] = twoSteps(s0) // s0 is untouched; s2 is yours
  using final = run(ops, step, s0, 100).state // 100 steps, intermediates freed
  return {
    w: Array.from(await ops.read(final.params.w)),
    count: (await ops.read(final.stats.count))[0]!,
    twoSteps: Array.from(await ops.read(s2.params.w)),
  }
}
