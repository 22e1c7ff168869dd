/**
 * The JSON encoding of tensors and trees of tensors used by `polyak apply` (and checkpoints later):
 *
 *     { "shape": [2, 3], "dtype": "float32", "data": [1, 2, 3, 4, 5, 6] }     (dtype optional, default float32)
 *
 * A tree is nested objects whose leaves are such tensors (a leaf is any object with `shape` and
 * `data`). Decoding checks every leaf and names the path of the first problem.
 *
 * @module codecs/tensorJson
 */
import * as E from 'fp-ts/lib/Either.js'
import { PolyakError, showShape } from '../core/errors.js'
import { preview } from './jsonInput.js'
import type { DType, Ops } from '../core/ops.js'
import { type Leaf, type Tree, isNode, mapAny } from '../core/tree.js'

/** A tensor as JSON. */
export interface TensorJson {
  readonly shape: readonly number[]
  readonly dtype?: DType
  readonly data: readonly number[]
}

/** A JSON value that does not describe a tensor or a tree of tensors. */
export class TensorJsonError extends PolyakError {
  override readonly name = 'TensorJsonError'
  constructor(path: string, detail: string) {
    super('INVALID_ARGUMENT', `'${path}': ${detail}`, path)
  }
}

/** True when `x` is shaped like a tensor (an object with `shape` and `data`). */
export const isTensorJson = (x: unknown): x is TensorJson => isNode(x) && !Array.isArray(x) && 'shape' in (x as object) && 'data' in (x as object)

const INT32_MIN = -(2 ** 31)
const INT32_MAX = 2 ** 31 - 1

/** Checks one tensor's JSON (shape, dtype, data length and values). */
export const checkTensorJson = (path: string, x: unknown): E.Either<TensorJsonError, TensorJson> => {
  if (!isTensorJson(x)) return E.left(new TensorJsonError(path, 'expected a tensor {shape, data, dtype?}'))
  const keys = Object.keys(x).filter((k) => k !== 'shape' && k !== 'data' && k !== 'dtype')
  if (keys.length > 0) return E.left(new TensorJsonError(path, `unknown field(s) ${keys.join(', ')} in a tensor (known: shape, data, dtype)`))
  const { shape, data, dtype } = x as { shape: unknown; data: unknown; dtype?: unknown }
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || (d as number) < 0)) {
    return E.left(new TensorJsonError(`${path}.shape`, `expected an array of non-negative integers, got ${preview(shape)}`))
  }
  if (dtype !== undefined && dtype !== 'float32' && dtype !== 'int32') {
    return E.left(new TensorJsonError(`${path}.dtype`, `expected 'float32' or 'int32', got ${preview(dtype)}`))
  }
  if (!Array.isArray(data)) return E.left(new TensorJsonError(`${path}.data`, 'expected an array of numbers (row-major)'))
  const n = (shape as number[]).reduce((a, b) => a * b, 1)
  if (data.length !== n) {
    return E.left(new TensorJsonError(`${path}.data`, `${data.length} values do not fill shape ${showShape(shape as number[])} (${n} elements)`))
  }
  const int = dtype === 'int32'
  const bad = data.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v) || (int && !(Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX)))
  if (bad >= 0) {
    const what = int ? `an integer in [${INT32_MIN}, ${INT32_MAX}] (int32)` : 'a finite number'
    return E.left(new TensorJsonError(`${path}.data[${bad}]`, `expected ${what}, got ${preview(data[bad])}`))
  }
  return E.right(x as TensorJson)
}

/**
 * Decodes a JSON tree of tensors into tensors of `ops`. Fails with the path (prefixed `root`) of the
 * first malformed leaf; no tensor is created unless the whole tree is valid.
 */
export const decodeTree = <T extends Leaf>(ops: Ops<T>, json: unknown, root: string): E.Either<TensorJsonError, Tree<T>> => {
  const problems: TensorJsonError[] = []
  const walk = (x: unknown, path: string): void => {
    if (isTensorJson(x)) {
      const r = checkTensorJson(path, x)
      if (E.isLeft(r)) problems.push(r.left)
    } else if (isNode(x) && !Array.isArray(x)) {
      for (const [k, v] of Object.entries(x)) walk(v, `${path}.${k}`)
    } else {
      problems.push(new TensorJsonError(path, `expected a tensor {shape, data} or an object of them, got ${preview(x, 40)}`))
    }
  }
  walk(json, root)
  if (problems.length > 0) return E.left(problems[0]!)
  return E.right(mapAnyJson(json, (t) => ops.tensor(t.data, t.shape, t.dtype ?? 'float32')) as Tree<T>)
}

const mapAnyJson = (x: unknown, f: (t: TensorJson) => unknown): unknown =>
  isTensorJson(x) ? f(x) : Object.fromEntries(Object.entries(x as Record<string, unknown>).map(([k, v]) => [k, mapAnyJson(v, f)]))

/** Encodes a tree of tensors (numbers pass through) as JSON, reading every leaf back. */
export const encodeTree = async <T extends Leaf>(ops: Ops<T>, tree: unknown): Promise<unknown> => {
  const pending: Array<Promise<void>> = []
  const out = mapAny(tree, (leaf) => {
    if (typeof leaf === 'number') return leaf
    const t = leaf as T
    const slot: { shape: number[]; dtype: string; data: number[] } = { shape: [...t.shape], dtype: t.dtype, data: [] }
    pending.push(ops.read(t).then((d) => void (slot.data = Array.from(d))))
    return slot
  })
  await Promise.all(pending)
  return out
}
