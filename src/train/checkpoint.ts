/**
 * Checkpoints: the whole train state (student and teacher parameters and statistics, optimizer
 * state, step) with the run's config, as one JSON text. Decoding validates the format, refuses a
 * config that differs from the run's (naming the field), and checks every tensor's path, shape and
 * dtype against the state the run would start from.
 *
 * Where the text is kept is a `CheckpointStore`: `polyak/node`'s `checkpointFile(path)` writes files
 * atomically; in a browser any `{read, write}` pair will do (IndexedDB, memory). This module reaches
 * no Node builtin.
 *
 * @module train/checkpoint
 */
import * as tf from '@tensorflow/tfjs-core'
import { PolyakError, showShape } from '../core/errors.js'
import type { ModelTree } from '../nn/model.js'
import { type TrainState, flatten } from './common.js'

/** Where a checkpoint's text lives: a file in Node (`checkpointFile`), or anything with read and write. */
export interface CheckpointStore {
  /** Names the store in messages (a file path, a key). */
  readonly name: string
  /** The stored text; rejects when there is none or it cannot be read. */
  read(): Promise<string>
  /** Replaces the stored text as a whole: a reader never sees half of it. */
  write(text: string): Promise<void>
}

/** A `CheckpointStore` in memory (tests, browsers without persistence). */
export const memoryStore = (name = 'memory'): CheckpointStore & { text: string | undefined } => {
  const store = {
    name,
    text: undefined as string | undefined,
    read: () => (store.text === undefined ? Promise.reject(new Error('nothing stored yet')) : Promise.resolve(store.text)),
    write: (text: string) => {
      store.text = text
      return Promise.resolve()
    },
  }
  return store
}

const BASE64_CHUNK = 0x8000
/** Bytes as base64 without Node's `Buffer` (browsers have `btoa` on binary strings). */
const toBase64 = (bytes: Uint8Array): string => {
  let binary = ''
  for (let i = 0; i < bytes.length; i += BASE64_CHUNK) binary += String.fromCharCode(...bytes.subarray(i, i + BASE64_CHUNK))
  return btoa(binary)
}
/** base64 back to bytes; `undefined` when `text` is not base64. */
const fromBase64 = (text: string): Uint8Array | undefined => {
  let binary: string
  try {
    binary = atob(text)
  } catch {
    return undefined
  }
  return Uint8Array.from(binary, (c) => c.charCodeAt(0))
}

/** A checkpoint problem: unreadable, malformed, or not for this run. */
export class CheckpointError extends PolyakError {
  override readonly name = 'CheckpointError'
  constructor(file: string, detail: string) {
    super('INVALID_ARGUMENT', `checkpoint '${file}': ${detail}`, file)
  }
}

interface EncodedTensor {
  readonly shape: number[]
  readonly dtype: 'float32' | 'int32'
  /** Little-endian bytes, base64. */
  readonly data: string
}

const FORMAT = 'polyak-checkpoint'
const VERSION = 1

const encodeTree = async (t: ModelTree): Promise<Record<string, EncodedTensor>> => {
  const out: Record<string, EncodedTensor> = {}
  for (const [path, x] of flatten(t)) {
    const d = await x.data()
    out[path] = { shape: [...x.shape], dtype: x.dtype as 'float32' | 'int32', data: toBase64(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)) }
  }
  return out
}

/** `state` with `config` as checkpoint text (JSON, tensors as little-endian base64). */
export const encodeCheckpoint = async (kind: string, config: unknown, state: TrainState): Promise<string> => {
  const payload = {
    format: FORMAT,
    version: VERSION,
    kind,
    config,
    step: state.step,
    student: { params: await encodeTree(state.student.params), stats: await encodeTree(state.student.stats) },
    ...(state.teacher === undefined ? {} : { teacher: { params: await encodeTree(state.teacher.params), stats: await encodeTree(state.teacher.stats) } }),
    opt: Object.fromEntries(await Promise.all(Object.entries(state.opt).map(async ([k, v]) => [k, await encodeTree(v)] as const))),
  }
  return JSON.stringify(payload)
}

/** Saves `state` with `config` to `store` (atomically where the store is: `checkpointFile` is). */
export const saveCheckpoint = async (store: CheckpointStore, kind: string, config: unknown, state: TrainState): Promise<void> =>
  store.write(await encodeCheckpoint(kind, config, state))

const firstDifference = (a: unknown, b: unknown, path = ''): string | undefined => {
  if (typeof a !== typeof b || Array.isArray(a) !== Array.isArray(b)) return path === '' ? '<config>' : path
  if (a !== null && typeof a === 'object' && b !== null) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b as object)])
    for (const k of keys) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path === '' ? k : `${path}.${k}`)
      if (d !== undefined) return d
    }
    return undefined
  }
  return a === b ? undefined : path === '' ? '<config>' : path
}

const decodeInto = (file: string, where: string, like: ModelTree, enc: unknown): ModelTree => {
  if (enc === null || typeof enc !== 'object') throw new CheckpointError(file, `'${where}' is missing or not an object`)
  const saved = enc as Record<string, EncodedTensor>
  const expected = flatten(like)
  const extra = Object.keys(saved).filter((p) => !expected.some(([q]) => q === p))
  if (extra.length > 0) throw new CheckpointError(file, `'${where}/${extra[0]}' is not part of this model`)
  const tensors = expected.map(([path, t]) => {
    const e = saved[path]
    if (e === undefined) throw new CheckpointError(file, `'${where}/${path}' is missing`)
    if (!Array.isArray(e.shape) || e.shape.join(',') !== t.shape.join(',')) {
      throw new CheckpointError(file, `'${where}/${path}' has shape ${showShape(e.shape ?? [])}, the model needs ${showShape(t.shape)}`)
    }
    if (e.dtype !== t.dtype) throw new CheckpointError(file, `'${where}/${path}' has dtype ${String(e.dtype)}, the model needs ${t.dtype}`)
    const bytes = fromBase64(String(e.data))
    if (bytes === undefined) throw new CheckpointError(file, `'${where}/${path}' data is not base64`)
    const n = t.shape.reduce((a, b) => a * b, 1)
    if (bytes.length !== n * 4) throw new CheckpointError(file, `'${where}/${path}' holds ${bytes.length} bytes, ${showShape(t.shape)} ${t.dtype} needs ${n * 4}`)
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
    const values = t.dtype === 'int32' ? new Int32Array(ab) : new Float32Array(ab)
    if (t.dtype === 'float32' && !(values as Float32Array).every(Number.isFinite)) throw new CheckpointError(file, `'${where}/${path}' contains NaN or Inf`)
    return tf.tensor(values, t.shape, t.dtype)
  })
  let i = 0
  const rebuild = (x: ModelTree): ModelTree => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, v instanceof tf.Tensor ? tensors[i++]! : rebuild(v)]))
  return rebuild(like)
}

/**
 * Decodes checkpoint `text` (named `file` in errors) of `kind` for a run with `config`, shaped like
 * `like` (the state the run would start from: only its structure, shapes and dtypes are used).
 */
export const decodeCheckpoint = (text: string, file: string, kind: string, config: unknown, like: TrainState): TrainState => {
  let json: Record<string, unknown>
  try {
    json = JSON.parse(text) as Record<string, unknown>
  } catch (e) {
    throw new CheckpointError(file, `cannot be read as JSON (${(e as Error).message})`)
  }
  if (json === null || typeof json !== 'object') throw new CheckpointError(file, 'is not a JSON object')
  if (json.format !== FORMAT) throw new CheckpointError(file, `not a polyak checkpoint (format ${JSON.stringify(json.format)})`)
  if (json.version !== VERSION) throw new CheckpointError(file, `version ${String(json.version)}; this polyak reads version ${VERSION}`)
  if (json.kind !== kind) throw new CheckpointError(file, `is a '${String(json.kind)}' run, not '${kind}'`)
  const diff = firstDifference(json.config, config)
  if (diff !== undefined) {
    throw new CheckpointError(file, `was written with a different config (field '${diff}': ${JSON.stringify(pick(json.config, diff))} vs ${JSON.stringify(pick(config, diff))}); resume with the same config`)
  }
  if (!Number.isInteger(json.step) || (json.step as number) < 0) throw new CheckpointError(file, `'step' must be an integer ≥ 0, got ${JSON.stringify(json.step)}`)
  const student = json.student as { params?: unknown; stats?: unknown } | undefined
  const teacher = json.teacher as { params?: unknown; stats?: unknown } | undefined
  if ((teacher === undefined) !== (like.teacher === undefined)) throw new CheckpointError(file, like.teacher === undefined ? "has a teacher, this run has none" : "has no teacher, this run needs one")
  const opt = json.opt as Record<string, unknown> | undefined
  return {
    student: { params: decodeInto(file, 'student/params', like.student.params, student?.params), stats: decodeInto(file, 'student/stats', like.student.stats, student?.stats) },
    ...(like.teacher === undefined ? {} : { teacher: { params: decodeInto(file, 'teacher/params', like.teacher.params, teacher?.params), stats: decodeInto(file, 'teacher/stats', like.teacher.stats, teacher?.stats) } }),
    opt: Object.fromEntries(Object.entries(like.opt).map(([k, v]) => [k, decodeInto(file, `opt/${k}`, v, opt?.[k])])),
    step: json.step as number,
  }
}

/** Loads a checkpoint of `kind` for a run with `config` from `store`, shaped like `like` (see `decodeCheckpoint`). */
export const loadCheckpoint = async (store: CheckpointStore, kind: string, config: unknown, like: TrainState): Promise<TrainState> => {
  let text: string
  try {
    text = await store.read()
  } catch (e) {
    throw new CheckpointError(store.name, `cannot be read (${(e as Error).message})`)
  }
  return decodeCheckpoint(text, store.name, kind, config, like)
}

const pick = (x: unknown, path: string): unknown =>
  path === '<config>' ? x : path.split('.').reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), x)
