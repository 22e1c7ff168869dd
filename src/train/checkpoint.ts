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
import * as E from 'fp-ts/lib/Either.js'
import { parseJsonInput, preview } from '../codecs/jsonInput.js'
import { NonFiniteError, PolyakError, showShape } from '../core/errors.js'
import { VERSION } from '../version.js'
import { type TreeRecord, fromLeaves, leaves } from '../core/tree.js'
import type { TrainState } from './common.js'

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

/** Checkpoints may be large (every tensor, base64) but are never deep. */
const CHECKPOINT_LIMITS = { maxBytes: 2 ** 31 - 1, maxDepth: 16 }

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
const FORMAT_VERSION = 2

/**
 * What a checkpoint is for: resuming refuses one whose identity differs from the run's, naming the
 * field (and the polyak version that wrote it).
 */
export interface CheckpointIdentity {
  /** The pipeline (`semiSupervised`, …). */
  readonly kind: string
  /** Every config field of the run. */
  readonly config: unknown
  /** The tfjs backend the run trains on (numbers differ between backends in the last bits). */
  readonly backend: string
  /** The data the run trains and evaluates on (sizes), so a different data budget is refused. */
  readonly data: unknown
  /** The largest step the run can reach: a saved `step` must lie in `[0, maxStep]`. */
  readonly maxStep: number
}

/** JSON with object keys sorted at every level: the canonical bytes the content hash covers. */
export const canonicalJson = (v: unknown): string => {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`
  }
  return JSON.stringify(v)
}

/** SHA-256 of `text` (UTF-8) as hex, with the Web Crypto API that browsers and Node share. */
export const sha256Hex = async (text: string): Promise<string> => {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('')
}

const encodeTree = async (t: TreeRecord<tf.Tensor>, where: string, step: number): Promise<Record<string, EncodedTensor>> => {
  const out: Record<string, EncodedTensor> = {}
  for (const [path, x] of leaves<tf.Tensor>(t)) {
    const d = await x.data()
    if (x.dtype === 'float32' && !(d as Float32Array).every(Number.isFinite))
      throw new NonFiniteError(step, `${where}/${path}`, 'a checkpoint is never written with NaN or Inf')
    out[path] = { shape: [...x.shape], dtype: x.dtype as 'float32' | 'int32', data: toBase64(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)) }
  }
  return out
}

/**
 * `state` of the run `id` as checkpoint text: JSON with the polyak version, the run's identity, the
 * step and every tensor (little-endian base64), sealed by `sha256`, the SHA-256 of the canonical JSON
 * of everything else. Refuses (`NonFiniteError`) a state with NaN or Inf.
 */
export const encodeCheckpoint = async (id: CheckpointIdentity, state: TrainState): Promise<string> => {
  const step = state.step
  const body = {
    format: FORMAT,
    version: FORMAT_VERSION,
    polyak: VERSION,
    kind: id.kind,
    backend: id.backend,
    data: id.data,
    config: id.config,
    step,
    student: { params: await encodeTree(state.student.params, 'student/params', step), stats: await encodeTree(state.student.stats, 'student/stats', step) },
    ...(state.teacher === undefined
      ? {}
      : {
          teacher: {
            params: await encodeTree(state.teacher.params, 'teacher/params', step),
            stats: await encodeTree(state.teacher.stats, 'teacher/stats', step),
          },
        }),
    opt: Object.fromEntries(await Promise.all(Object.entries(state.opt).map(async ([k, v]) => [k, await encodeTree(v, `opt/${k}`, step)] as const))),
  }
  return JSON.stringify({ ...body, sha256: await sha256Hex(canonicalJson(body)) })
}

/** Saves `state` of run `id` to `store` (atomically where the store is: `checkpointFile` is). */
export const saveCheckpoint = async (store: CheckpointStore, id: CheckpointIdentity, state: TrainState): Promise<void> =>
  store.write(await encodeCheckpoint(id, state))

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

const decodeInto = (file: string, where: string, like: TreeRecord<tf.Tensor>, enc: unknown): TreeRecord<tf.Tensor> => {
  if (enc === null || typeof enc !== 'object') throw new CheckpointError(file, `'${where}' is missing or not an object`)
  const saved = enc as Record<string, EncodedTensor>
  const expected = leaves<tf.Tensor>(like)
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
    if (bytes.length !== n * 4)
      throw new CheckpointError(file, `'${where}/${path}' holds ${bytes.length} bytes, ${showShape(t.shape)} ${t.dtype} needs ${n * 4}`)
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
    const values = t.dtype === 'int32' ? new Int32Array(ab) : new Float32Array(ab)
    if (t.dtype === 'float32' && !(values as Float32Array).every(Number.isFinite)) throw new CheckpointError(file, `'${where}/${path}' contains NaN or Inf`)
    if (/(^|\/)variance$/.test(path) && (values as Float32Array).some((v) => v < 0))
      throw new CheckpointError(file, `'${where}/${path}' holds a negative variance`)
    return tf.tensor(values, t.shape, t.dtype)
  })
  return fromLeaves(like, tensors) as TreeRecord<tf.Tensor>
}

/**
 * Decodes checkpoint `text` (named `file` in errors) for run `id`, shaped like `like` (the state the
 * run would start from: only its structure, shapes and dtypes are used). The content hash is checked
 * before anything else is used; then the format, the polyak version, every identity field, the step's
 * bounds, and every tensor (path, shape, dtype, size, finite, variances ≥ 0). Any mismatch is a
 * `CheckpointError` naming the field.
 */
export const decodeCheckpoint = async (text: string, file: string, id: CheckpointIdentity, like: TrainState): Promise<TrainState> => {
  const parsed = parseJsonInput(text, `checkpoint '${file}'`, CHECKPOINT_LIMITS)
  if (E.isLeft(parsed)) throw new CheckpointError(file, parsed.left.message.replace(/^checkpoint '[^']*'(, )?/, ''))
  const json = parsed.right as Record<string, unknown>
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new CheckpointError(file, 'is not a JSON object')
  if (json.format !== FORMAT) throw new CheckpointError(file, `not a polyak checkpoint (format ${preview(json.format, 40)})`)
  if (json.version !== FORMAT_VERSION)
    throw new CheckpointError(file, `format version ${preview(json.version, 40)}; this polyak reads version ${FORMAT_VERSION} (start the run afresh)`)
  const { sha256, ...body } = json
  if (typeof sha256 !== 'string') throw new CheckpointError(file, "has no content hash ('sha256')")
  if ((await sha256Hex(canonicalJson(body))) !== sha256) {
    throw new CheckpointError(file, 'content hash mismatch: the file was modified or corrupted after it was written; nothing in it was used')
  }
  const same = (field: string, saved: unknown, wanted: unknown, hint: string): void => {
    const diff = firstDifference(saved, wanted)
    if (diff === undefined) return
    const sub = diff === '<config>' ? field : `${field}.${diff}`
    const at = (x: unknown): unknown => (diff === '<config>' ? x : pick(x, diff))
    throw new CheckpointError(file, `was written with a different ${field} (field '${sub}': ${preview(at(saved), 80)} vs ${preview(at(wanted), 80)}); ${hint}`)
  }
  same('polyak', json.polyak, VERSION, 'resume with the polyak version that wrote it, or start afresh')
  same('kind', json.kind, id.kind, 'resume with the same kind of run')
  same('config', json.config, id.config, 'resume with the same config')
  same('backend', json.backend, id.backend, 'resume on the same backend')
  same('data', json.data, id.data, 'resume with the same data budget')
  if (!Number.isInteger(json.step) || (json.step as number) < 0 || (json.step as number) > id.maxStep) {
    throw new CheckpointError(file, `'step' must be an integer in [0, ${id.maxStep}] (the run's steps), got ${preview(json.step, 40)}`)
  }
  const student = json.student as { params?: unknown; stats?: unknown } | undefined
  const teacher = json.teacher as { params?: unknown; stats?: unknown } | undefined
  if ((teacher === undefined) !== (like.teacher === undefined))
    throw new CheckpointError(file, like.teacher === undefined ? 'has a teacher, this run has none' : 'has no teacher, this run needs one')
  const opt = json.opt as Record<string, unknown> | undefined
  return {
    student: {
      params: decodeInto(file, 'student/params', like.student.params, student?.params),
      stats: decodeInto(file, 'student/stats', like.student.stats, student?.stats),
    },
    ...(like.teacher === undefined
      ? {}
      : {
          teacher: {
            params: decodeInto(file, 'teacher/params', like.teacher.params, teacher?.params),
            stats: decodeInto(file, 'teacher/stats', like.teacher.stats, teacher?.stats),
          },
        }),
    opt: Object.fromEntries(Object.entries(like.opt).map(([k, v]) => [k, decodeInto(file, `opt/${k}`, v, opt?.[k])])),
    step: json.step as number,
  }
}

/** Loads a checkpoint of run `id` from `store`, shaped like `like` (see `decodeCheckpoint`). */
export const loadCheckpoint = async (store: CheckpointStore, id: CheckpointIdentity, like: TrainState): Promise<TrainState> => {
  let text: string
  try {
    text = await store.read()
  } catch (e) {
    throw new CheckpointError(store.name, `cannot be read (${(e as Error).message})`)
  }
  return decodeCheckpoint(text, store.name, id, like)
}

const pick = (x: unknown, path: string): unknown =>
  path === '<config>' ? x : path.split('.').reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), x)
