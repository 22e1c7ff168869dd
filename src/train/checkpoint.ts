/**
 * Checkpoints: the whole train state (student and teacher parameters and statistics, optimizer
 * state, step) with the run's config, in one JSON file. Writes are atomic (temp file + rename);
 * loads validate the format, refuse a config that differs from the run's (naming the field), and
 * check every tensor's path, shape and dtype against the state the run would start from.
 *
 * @module train/checkpoint
 */
import { readFile } from 'node:fs/promises'
import * as tf from '@tensorflow/tfjs-core'
import { PolyakError, showShape } from '../core/errors.js'
import type { ModelTree } from '../nn/model.js'
import { writeAtomic } from '../report/report.js'
import { type TrainState, flatten } from './common.js'

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
    out[path] = { shape: [...x.shape], dtype: x.dtype as 'float32' | 'int32', data: Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('base64') }
  }
  return out
}

/** Saves `state` with `config` to `file`, atomically. */
export const saveCheckpoint = async (file: string, kind: string, config: unknown, state: TrainState): Promise<void> => {
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
  await writeAtomic(file, JSON.stringify(payload))
}

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
    const bytes = Buffer.from(String(e.data), 'base64')
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
 * Loads a checkpoint of `kind` for a run with `config`, shaped like `like` (the state the run
 * would start from: only its structure, shapes and dtypes are used).
 */
export const loadCheckpoint = async (file: string, kind: string, config: unknown, like: TrainState): Promise<TrainState> => {
  let json: Record<string, unknown>
  try {
    json = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
  } catch (e) {
    throw new CheckpointError(file, `cannot be read as JSON (${(e as Error).message})`)
  }
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

const pick = (x: unknown, path: string): unknown =>
  path === '<config>' ? x : path.split('.').reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), x)
