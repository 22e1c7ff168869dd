/**
 * polyak: normalizers and moving-average teachers of self- and semi-supervised learning as pure
 * state transitions on TensorFlow.js.
 *
 * - `core/tree`: TensorTree paths, map, zipWith, mask, select
 * - `core/ops`: the DSL vocabulary `Ops<T>`; interpreters `tfOps` (tfjs) and `referenceOps` (Float64)
 * - `core/transition`: `Transition<P, S, A>` (fp-ts `State`), `transition`, `sequence`, `named`, `masked`
 * - `core/memory`, `core/driver`: ownership helpers and the `run` / `scan` drivers
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
