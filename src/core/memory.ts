/**
 * The ownership policy, in functions:
 *
 * 1. Inputs are borrowed: nothing in polyak disposes or mutates a tensor it was given.
 * 2. Outputs are fresh and owned by the caller: no output leaf is also an input leaf, so disposing
 *    the input state never invalidates the output (pass-through leaves are returned as `clone`s,
 *    O(1) on cpu/webgpu, a copy on wasm).
 * 3. Drivers own state lifetimes (`core/driver`).
 *
 * @module core/memory
 */
import { DisposedTensorError } from './errors.js'
import type { Ops } from './ops.js'
import { type Leaf, type Tree, forEachLeaf, isNode, mapAny } from './tree.js'

/** True when `x` looks like a tensor (has a shape array and a dtype). */
export const isTensorLike = (x: unknown): x is Leaf =>
  typeof x === 'object' && x !== null && !isNode(x) && Array.isArray((x as Leaf).shape) && typeof (x as Leaf).dtype === 'string'

/** Every tensor leaf of a value (non-tensor leaves such as numbers are skipped). */
export const tensorLeaves = <T extends Leaf>(value: unknown): Array<readonly [string, T]> => {
  const out: Array<readonly [string, T]> = []
  if (value === undefined || value === null) return out
  forEachLeaf(value as Tree<unknown>, (leaf, path) => {
    if (isTensorLike(leaf)) out.push([path, leaf as T])
  })
  return out
}

/** A deep copy of the tree's structure with every leaf `ops.clone`d (an independently owned tree). */
export const cloneTree = <T extends Leaf, Tr extends Tree<T>>(ops: Ops<T>, tree: Tr): Tr =>
  mapAny(tree, (leaf) => (isTensorLike(leaf) ? ops.clone(leaf as T) : leaf)) as Tr

/** Disposes every tensor leaf (already-disposed leaves are skipped). */
export const disposeTree = <T extends Leaf>(ops: Ops<T>, tree: unknown): void => {
  for (const [, leaf] of tensorLeaves<T>(tree)) ops.dispose(leaf)
}

/**
 * Throws a `DisposedTensorError` naming the first disposed leaf's path (prefixed by `root`).
 */
export const assertLive = <T extends Leaf>(ops: Ops<T>, tree: unknown, root: string): void => {
  for (const [path, leaf] of tensorLeaves<T>(tree)) {
    if (ops.isDisposed(leaf)) throw new DisposedTensorError(root === '' ? path : path === '' ? root : `${root}/${path}`)
  }
}

/**
 * Replaces every leaf of `output` that is also a leaf of `inputs` by a clone, so the output owns all
 * of its tensors (rule 2 above). Structure and non-tensor leaves are kept.
 */
export const freshen = <T extends Leaf, R>(ops: Ops<T>, inputs: unknown, output: R): R => {
  const borrowed = new Set<unknown>(tensorLeaves<T>(inputs).map(([, t]) => t))
  if (borrowed.size === 0 || output === undefined || output === null) return output
  // an R that is no node and is one of the borrowed inputs is a leaf of type T
  if (!isNode(output)) return (borrowed.has(output) ? ops.clone(output as unknown as T) : output) as R
  return mapAny(output, (leaf) => (borrowed.has(leaf) ? ops.clone(leaf as T) : leaf)) as R
}

/** A value paired with a `Symbol.dispose` that frees its tensors, for `using` declarations. */
export type Owned<V> = V & Disposable

/**
 * Attaches `[Symbol.dispose]` to a plain-object value so TypeScript ≥ 5.2 users can write
 * `using state = owned(ops, s)`; disposing frees every tensor leaf.
 */
export const owned = <T extends Leaf, V extends object>(ops: Ops<T>, value: V): Owned<V> =>
  Object.assign(Object.create(Object.prototype) as object, value, {
    [Symbol.dispose]: () => disposeTree(ops, value),
  }) as Owned<V>
