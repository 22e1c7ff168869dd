/**
 * TensorTree: nested records and arrays whose leaves are tensors, addressed by string paths such as
 * `backbone/conv1/weight` (record keys and array indices joined by `/`).
 *
 * A value is a *node* when it is an array or a plain object (prototype `Object.prototype` or
 * `null`); anything else (a `tf.Tensor`, a reference tensor) is a *leaf*. Key order is insertion
 * order, so `leaves` and `paths` are deterministic.
 *
 * These functions are structural: they never create, clone or dispose tensors (see `core/memory`).
 *
 * @module core/tree
 */
import { ShapeMismatchError, TreeStructureError, showShape } from './errors.js'

/** What every leaf of a tensor tree carries: a shape and a dtype. */
export interface Leaf {
  readonly shape: readonly number[]
  readonly dtype: string
}

/** A nested structure of records and arrays with leaves of type `L`. */
export type Tree<L> = L | readonly Tree<L>[] | { readonly [key: string]: Tree<L> }

/** A record node of a tree, mutable while it is built: model parameters and statistics are nested records of tensors. */
export type TreeRecord<L> = { [key: string]: Tree<L> }

/** The tree `T` with every leaf of type `L` replaced by `U` (structure preserved at the type level). */
export type MapLeaves<T, L, U> = T extends L
  ? U
  : T extends readonly unknown[]
    ? { -readonly [K in keyof T]: MapLeaves<T[K], L, U> }
    : T extends object
      ? { -readonly [K in keyof T]: MapLeaves<T[K], L, U> }
      : never

/** The path separator. Record keys must not contain it. */
export const SEP = '/'

/** True when `x` is an interior node of a tree (an array or a plain object). */
export const isNode = (x: unknown): x is readonly unknown[] | Record<string, unknown> => {
  if (Array.isArray(x)) return true
  if (x === null || typeof x !== 'object') return false
  const proto = Object.getPrototypeOf(x) as unknown
  return proto === Object.prototype || proto === null
}

const join = (path: string, key: string | number): string => (path === '' ? `${key}` : `${path}${SEP}${key}`)

const checkKey = (path: string, key: string): void => {
  if (key.includes(SEP)) {
    throw new TreeStructureError(path, `record key '${key}' contains '${SEP}', which is the path separator; rename it`)
  }
}

const checkLeaf = (path: string, x: unknown): void => {
  if (x === undefined || x === null) {
    throw new TreeStructureError(path, `leaf is ${x === null ? 'null' : 'undefined'}; every leaf must be a tensor`)
  }
}

/**
 * Visits every leaf in path order.
 *
 * @example
 * forEachLeaf({ a: t1, b: [t2] }, (leaf, path) => console.log(path)) // 'a', 'b/0'
 */
export const forEachLeaf = <L>(tree: Tree<L>, f: (leaf: L, path: string) => void, root = ''): void => {
  const go = (node: unknown, path: string): void => {
    if (Array.isArray(node)) {
      node.forEach((child, i) => go(child, join(path, i)))
    } else if (isNode(node)) {
      for (const key of Object.keys(node)) {
        checkKey(path, key)
        go((node as Record<string, unknown>)[key], join(path, key))
      }
    } else {
      checkLeaf(path, node)
      f(node as L, path)
    }
  }
  go(tree, root)
}

/** All `[path, leaf]` pairs in path order. */
export const leaves = <L>(tree: Tree<L>): Array<readonly [string, L]> => {
  const out: Array<readonly [string, L]> = []
  forEachLeaf(tree, (leaf, path) => out.push([path, leaf]))
  return out
}

/** All leaf paths in path order. */
export const paths = <L>(tree: Tree<L>): string[] => leaves(tree).map(([p]) => p)

/** Number of leaves. */
export const size = <L>(tree: Tree<L>): number => {
  let n = 0
  forEachLeaf(tree, () => (n += 1))
  return n
}

/**
 * Applies `f` to every leaf, keeping the structure: `map(t, f)` has the same paths as `t`.
 *
 * @example
 * const doubled = map(params, (w) => tf.mul(w, 2))
 */
export const map = <T extends Tree<L>, L extends Leaf, U>(tree: T, f: (leaf: L, path: string) => U): MapLeaves<T, L, U> =>
  mapAny(tree, f as (leaf: unknown, path: string) => unknown, '') as MapLeaves<T, L, U>

/** Untyped worker behind `map` (and other structure-preserving walks). */
export const mapAny = (tree: unknown, f: (leaf: unknown, path: string) => unknown, path = ''): unknown => {
  if (Array.isArray(tree)) return tree.map((child, i) => mapAny(child, f, join(path, i)))
  if (isNode(tree)) {
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(tree)) {
      checkKey(path, key)
      out[key] = mapAny((tree as Record<string, unknown>)[key], f, join(path, key))
    }
    return out
  }
  checkLeaf(path, tree)
  return f(tree, path)
}

const describeNode = (x: unknown): string => (Array.isArray(x) ? `an array of ${x.length}` : isNode(x) ? `a record {${Object.keys(x).join(', ')}}` : 'a leaf')

/**
 * Walks two trees in lockstep and applies `f` to each pair of leaves.
 *
 * Fails with the first mismatching path: a `TreeStructureError` when a key, an index or a
 * leaf/node kind differs, a `ShapeMismatchError` (naming both shapes) when two leaves have different
 * shapes.
 *
 * @example
 * const sum = zipWith(a, b, (x, y) => tf.add(x, y))
 */
export const zipWith = <T extends Tree<L>, L extends Leaf, U>(
  a: T,
  b: Tree<L>,
  f: (x: L, y: L, path: string) => U,
  options: ZipOptions = {},
): MapLeaves<T, L, U> => zipN<L, U>([a, b], (xs, path) => f(xs[0]!, xs[1]!, path), options) as MapLeaves<T, L, U>

/** Options of `zipWith` and `zipN`: a path prefix for messages and the names of the trees. */
export interface ZipOptions {
  /** Prefix of every path in errors and in the paths passed to `f` (e.g. `'params'`). */
  readonly root?: string
  /** How errors call the trees, default `['first', 'second', …]` (e.g. `['teacher', 'student']`). */
  readonly names?: readonly string[]
}

const ORDINALS = ['first', 'second', 'third', 'fourth', 'fifth']

/**
 * Walks `n ≥ 1` trees of the same structure in lockstep: `zipN([t₁, …, tₙ], f)` has the structure of
 * `t₁` with `f([x₁, …, xₙ], path)` at each leaf. Errors as `zipWith`, naming the two trees that differ.
 *
 * @example
 * const sums = zipN([a, b, c], ([x, y, z]) => tf.addN([x, y, z]))
 */
export const zipN = <L extends Leaf, U>(trees: readonly Tree<L>[], f: (xs: L[], path: string) => U, options: ZipOptions = {}): Tree<U> => {
  if (trees.length === 0) throw new TreeStructureError(options.root ?? '', 'zipN needs at least one tree')
  const names = trees.map((_, i) => options.names?.[i] ?? ORDINALS[i] ?? `tree ${i + 1}`)
  return zipAny(trees, f as (xs: unknown[], path: string) => unknown, options.root ?? '', names) as Tree<U>
}

const zipAny = (xs: readonly unknown[], f: (xs: unknown[], path: string) => unknown, path: string, names: readonly string[]): unknown => {
  const a = xs[0]
  const mismatch = (i: number): TreeStructureError => new TreeStructureError(path, `${names[0]} is ${describeNode(a)}, ${names[i]} is ${describeNode(xs[i])}`)
  if (Array.isArray(a)) {
    xs.forEach((b, i) => {
      if (!Array.isArray(b) || b.length !== a.length) throw mismatch(i)
    })
    return a.map((_, k) =>
      zipAny(
        xs.map((b) => (b as unknown[])[k]),
        f,
        join(path, k),
        names,
      ),
    )
  }
  if (isNode(a)) {
    const ka = Object.keys(a)
    xs.forEach((b, i) => {
      if (i === 0) return
      if (!isNode(b) || Array.isArray(b)) throw mismatch(i)
      const kb = new Set(Object.keys(b))
      for (const key of ka) {
        if (!kb.has(key)) throw new TreeStructureError(join(path, key), `present in the ${names[0]} tree, missing in the ${names[i]}`)
      }
      for (const key of kb) {
        if (!Object.hasOwn(a, key)) throw new TreeStructureError(join(path, key), `present in the ${names[i]} tree, missing in the ${names[0]}`)
      }
    })
    const out: Record<string, unknown> = {}
    for (const key of ka) {
      checkKey(path, key)
      out[key] = zipAny(
        xs.map((b) => (b as Record<string, unknown>)[key]),
        f,
        join(path, key),
        names,
      )
    }
    return out
  }
  xs.forEach((b, i) => {
    if (isNode(b)) throw new TreeStructureError(path, `${names[0]} is a leaf, ${names[i]} is ${describeNode(b)}`)
    checkLeaf(path, b)
  })
  const sa = (a as Partial<Leaf>).shape
  xs.forEach((b, i) => {
    const sb = (b as Partial<Leaf>).shape
    if (i > 0 && sa !== undefined && sb !== undefined && !sameShape(sa, sb)) {
      throw new ShapeMismatchError(path, `${names[0]} has shape ${showShape(sa)}, ${names[i]} has shape ${showShape(sb)}`)
    }
  })
  return f(xs as unknown[], path)
}

/**
 * The tree shaped like `like` whose leaves are `values`, in path order (the inverse of `leaves`):
 * `fromLeaves(t, leaves(t).map(([, x]) => x))` rebuilds `t`.
 */
export const fromLeaves = <L, U>(like: Tree<L>, values: readonly U[]): Tree<U> => {
  const n = size(like)
  if (values.length !== n) throw new TreeStructureError('', `fromLeaves: the tree has ${n} leaves, got ${values.length} values`)
  let i = 0
  return mapAny(like, () => values[i++]) as Tree<U>
}

/** True when two shapes are equal. */
export const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i])

/** A predicate on leaf paths, e.g. `(p) => p.startsWith('projector/')`. */
export type PathPredicate = (path: string) => boolean

/**
 * A tree of booleans with the structure of `tree`: `true` where `predicate(path)` holds.
 *
 * @example
 * mask(params, (p) => p.startsWith('projector/')) // { backbone: {...false}, projector: {...true} }
 */
export const mask = <T extends Tree<L>, L extends Leaf>(tree: T, predicate: PathPredicate): MapLeaves<T, L, boolean> =>
  map<T, L, boolean>(tree, (_leaf, path) => predicate(path))

/** Builds a path predicate matching every path under one of the given prefixes (`'projector'` matches `projector/...`). */
export const underPrefix =
  (...prefixes: readonly string[]): PathPredicate =>
  (path) =>
    prefixes.some((p) => path === p || path.startsWith(p.endsWith(SEP) ? p : p + SEP))

/**
 * The sub-tree of the leaves selected by `predicate`, with the same paths as in `tree` (arrays become
 * records keyed by index, so paths do not shift). Nodes left without a selected leaf are dropped.
 */
export const select = <L>(tree: Tree<L>, predicate: PathPredicate): Tree<L> => {
  const go = (node: unknown, path: string): unknown => {
    if (Array.isArray(node) || isNode(node)) {
      const out: Record<string, unknown> = {}
      const entries = Array.isArray(node) ? node.map((c, i) => [String(i), c] as const) : Object.entries(node)
      for (const [key, child] of entries) {
        if (!Array.isArray(node)) checkKey(path, key)
        const sub = go(child, join(path, key))
        if (sub !== undefined) out[key] = sub
      }
      return Object.keys(out).length > 0 ? out : undefined
    }
    checkLeaf(path, node)
    return predicate(path) ? node : undefined
  }
  return (go(tree, '') ?? {}) as Tree<L>
}

/** A `Map` from path to leaf. */
export const toPathMap = <L>(tree: Tree<L>): Map<string, L> => new Map(leaves(tree))
