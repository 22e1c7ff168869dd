/**
 * The README's "check your own normalizer" example: a hand-written RMS norm (per sample, over its
 * features) checked for batch independence with polyak's laws in a few lines.
 */
import type { Leaf, Ops } from 'polyak'
import { assertLaws, batchIndependence } from 'polyak/laws'
import { unsafeUseBackend } from 'polyak/backends'

/** y = x / √(mean over a sample's features of x² + ε) */
const myRmsNorm = <T extends Leaf>(ops: Ops<T>, x: T): T =>
  ops.mul(
    x,
    ops.rsqrt(
      ops.shift(
        ops.mean(
          ops.square(x),
          x.shape.slice(1).map((_, i) => i + 1),
          true,
        ),
        1e-6,
      ),
    ),
  )

/** Runs the batch-independence law on `myRmsNorm`; resolves with the results or throws a LawError. */
export const main = async (backend = 'cpu') => {
  const { ops } = await unsafeUseBackend(backend)
  return assertLaws('myRmsNorm', { channels: 4, forward: myRmsNorm }, [batchIndependence], ops, { numRuns: 100 })
}
