/**
 * polyak: normalizers and moving-average teachers of self- and semi-supervised learning as pure
 * state transitions on TensorFlow.js.
 *
 * - `core/tree`: TensorTree paths, map, zipWith, mask, select
 * - `core/ops`: the DSL vocabulary `Ops<T>`; interpreters `tfOps` (tfjs) and `referenceOps` (Float64)
 * - `core/transition`: `Transition<P, S, A>` (fp-ts `State`), `transition`, `sequence`, `named`, `masked`
 * - `core/memory`, `core/driver`: ownership helpers and the `run` / `scan` drivers
 * - `kernels/*`: polyak's fused tfjs kernels (wasm SIMD, cpu loops, WGSL) behind `tfOps`; `useFusedKernels`
 *
 * Backends live in `polyak/backends`, laws in `polyak/laws`.
 *
 * @packageDocumentation
 */
export * from './core/errors.js'
export * as tree from './core/tree.js'
export type { Leaf, Tree, MapLeaves, PathPredicate } from './core/tree.js'
export { underPrefix } from './core/tree.js'
export * from './core/ops.js'
export { tfOps, type Tensor } from './core/tfOps.js'
export { referenceOps, RefTensor, referenceMemory } from './core/referenceOps.js'
export * from './core/memory.js'
export * from './core/transition.js'
export * from './core/driver.js'

// fused kernels (the composed tfjs path is the fallback)
export { useFusedKernels } from './kernels/registry.js'
export { avgPool2x2 } from './kernels/activations.js'

// configs
export * from './codecs/config.js'

// moving averages
export * from './ema/schedules.js'
export * from './ema/ema.js'
export * from './ema/teacher.js'

// normalizers
export * from './norm/normalizer.js'
export * from './norm/batchNorm.js'
export * from './norm/eman.js'
export * from './norm/momentumBatchNorm.js'
export * from './norm/groupNorm.js'
export * from './norm/weightLayout.js'
export * from './norm/weightStandardization.js'
export * from './norm/weightAlign.js'

// models, optimizers, data, training
export * from './nn/model.js'
export { registerGradients } from './nn/gradients.js'
export * from './nn/random.js'
export * from './optim/optimizers.js'
export * from './data/mnist.js'
export * from './data/augment.js'
export * from './train/common.js'
export * from './train/semiSupervised.js'
export * from './train/selfSupervised.js'
export * from './train/supervised.js'
export * from './train/checkpoint.js'
