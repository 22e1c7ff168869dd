// Subjects for `polyak laws --subject examples/lawSubjects.mjs`: a module that exports the code to
// check under the names the laws know (emaStep, teacherUpdate, batchNorm, groupNorm, batchForward,
// momentumBatchNorm, weightAlign, transition, ema). Here: a hand-written RMSNorm checked for batch
// independence, and an EMA step written with the DSL.
import { unsafeGroupNorm } from 'polyak'

/** y = x / √(mean over the sample's features of x² + 1e-6): per sample, so batch-independent. */
export const batchForward = {
  channels: 4,
  forward: (ops, x) => {
    const axes = x.shape.slice(1).map((_, i) => i + 1)
    return ops.mul(x, ops.rsqrt(ops.shift(ops.mean(ops.square(x), axes, true), 1e-6)))
  },
}

/** avg ← decay·avg + (1 − decay)·x. */
export const emaStep = (ops, avg, x, decay) => ops.axpby(decay, avg, 1 - decay, x)

/** GroupNorm with 2 groups, claiming contiguous groups and ε = 1e-5. */
export const groupNorm = { make: (ops) => unsafeGroupNorm(ops, { groups: 2 }), groups: () => 2, epsilon: 1e-5 }
