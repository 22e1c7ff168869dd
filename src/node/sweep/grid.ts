/**
 * Sweep grids: a base train file and the fields that vary, expanded into jobs. Each job is a
 * complete, validated train file with a stable id (the first 16 hex digits of the SHA-256 of its
 * canonical JSON), so the same grid always names the same jobs, and re-running a sweep finds the
 * jobs it finished before.
 *
 *     { "name": "wa-vs-bn",                                         (optional)
 *       "base": { "kind": "supervised", "data": {...}, "config": {...} },
 *       "product": { "config.norm": ["batchNorm", "groupNorm"], "config.seed": [0, 1, 2] },
 *       "zip": { "config.batchSize": [8, 64], "config.lr": [0.0005, 0.002] } }
 *
 * `product` takes every combination of its lists; `zip` pairs its lists element by element (all of
 * one length); with both, every product combination meets every zip row. A field is a dotted path
 * into the train file (`config.seed`, `data.trainImages`, `backend`).
 *
 * @module sweep/grid
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { ConfigError, type ConfigIssue, decodeConfig, required } from '../../codecs/config.js'
import { FORBIDDEN_KEYS, preview } from '../../codecs/jsonInput.js'
import { canonicalJson, sha256Hex } from '../../train/checkpoint.js'
import { type TrainFile, decodeTrainFile } from '../../train/trainConfig.js'

/** One job of a sweep: its id, the values of the fields that vary, and the train file it runs. */
export interface SweepJob {
  readonly id: string
  /** The grid's fields and this job's values, e.g. `{ 'config.seed': 1 }`. */
  readonly params: Readonly<Record<string, unknown>>
  /** The train file, as JSON (what `polyak train` reads). */
  readonly file: Readonly<Record<string, unknown>>
  /** The same, decoded (defaults filled in). */
  readonly decoded: TrainFile
}

/** A validated grid. */
export interface SweepGrid {
  readonly name: string
  readonly jobs: readonly SweepJob[]
  /** The fields that vary, in grid order. */
  readonly fields: readonly string[]
}

const Values = t.refinement(t.array(t.unknown), (a) => a.length > 0, 'NonEmptyArray')
const FIELDS = {
  name: t.union([t.string, t.undefined]),
  base: t.UnknownRecord,
  product: t.union([t.record(t.string, Values), t.undefined]),
  zip: t.union([t.record(t.string, Values), t.undefined]),
}

/** The largest grid accepted: a typo such as a 10-element list in five fields would otherwise make 100 000 jobs. */
export const MAX_JOBS = 10_000

const TOP = new Set(['kind', 'backend', 'data', 'config'])

const setPath = (obj: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> => {
  const [head, ...rest] = path.split('.')
  const out = { ...obj }
  if (rest.length === 0) out[head!] = value
  else {
    const inner = out[head!]
    out[head!] = setPath(inner !== null && typeof inner === 'object' && !Array.isArray(inner) ? (inner as Record<string, unknown>) : {}, rest.join('.'), value)
  }
  return out
}

const fieldIssues = (group: 'product' | 'zip', fields: Record<string, unknown[]> | undefined): ConfigIssue[] =>
  Object.keys(fields ?? {}).flatMap((f) => {
    const parts = f.split('.')
    if (parts.some((p) => p === '' || FORBIDDEN_KEYS.has(p)))
      return [{ field: `${group}.${f}`, message: 'expected a dotted path into the train file, e.g. config.seed' }]
    if (!TOP.has(parts[0]!)) return [{ field: `${group}.${f}`, message: `a field of the train file starts with one of ${[...TOP].join(', ')}` }]
    return []
  })

/**
 * Expands and validates a grid (any JSON value): the grid's own fields, then every job's train file
 * (`decodeTrainFile`), naming the job and the field of the first problem. Nothing is run.
 */
export const decodeGrid = async (json: unknown): Promise<E.Either<ConfigError, SweepGrid>> => {
  const top = decodeConfig(
    'sweep grid',
    FIELDS,
    { name: undefined, base: required<Record<string, unknown>>(), product: undefined, zip: undefined },
    json,
    (g) => {
      const issues = [...fieldIssues('product', g.product), ...fieldIssues('zip', g.zip)]
      const zipLengths = Object.values(g.zip ?? {}).map((v) => v.length)
      if (new Set(zipLengths).size > 1) issues.push({ field: 'zip', message: `the zipped lists must have one length, got ${zipLengths.join(', ')}` })
      const both = Object.keys(g.product ?? {}).filter((k) => k in (g.zip ?? {}))
      if (both.length > 0) issues.push({ field: `zip.${both[0]}`, message: 'a field may vary in product or in zip, not both' })
      const count = Object.values(g.product ?? {}).reduce((n, v) => n * v.length, 1) * (zipLengths[0] ?? 1)
      if (count > MAX_JOBS) issues.push({ field: 'product', message: `the grid expands to ${count} jobs, more than ${MAX_JOBS}` })
      return issues
    },
  )
  if (E.isLeft(top)) return top
  const g = top.right
  const productFields = Object.keys(g.product ?? {})
  const zipFields = Object.keys(g.zip ?? {})
  let combos: Array<Record<string, unknown>> = [{}]
  for (const f of productFields) combos = combos.flatMap((c) => g.product![f]!.map((v) => ({ ...c, [f]: v })))
  const zipRows = zipFields.length === 0 ? [{}] : g.zip![zipFields[0]!]!.map((_, i) => Object.fromEntries(zipFields.map((f) => [f, g.zip![f]![i]])))
  const jobs: SweepJob[] = []
  const seen = new Map<string, number>()
  for (const combo of combos) {
    for (const row of zipRows) {
      const params = { ...combo, ...row }
      let file = g.base
      for (const [f, v] of Object.entries(params)) file = setPath(file, f, v)
      const decoded = decodeTrainFile(file)
      if (E.isLeft(decoded)) {
        return E.left(
          new ConfigError(
            'sweep grid',
            decoded.left.issues.map((i) => ({ ...i, field: `job ${jobs.length} (${preview(params, 120)}): ${i.field}` })),
          ),
        )
      }
      const id = (await sha256Hex(canonicalJson(decoded.right))).slice(0, 16)
      const twin = seen.get(id)
      if (twin !== undefined)
        return E.left(
          new ConfigError('sweep grid', [
            { field: `job ${jobs.length}`, value: params, message: `runs the same train file as job ${twin}; drop the repeated value` },
          ]),
        )
      seen.set(id, jobs.length)
      jobs.push({ id, params, file, decoded: decoded.right })
    }
  }
  return E.right({ name: g.name ?? 'sweep', jobs, fields: [...productFields, ...zipFields] })
}

/**
 * Jobs from train files given one by one (what a program builds, where a grid file has product and
 * zip): each is validated and gets its stable id; the first problem names the job and the field.
 */
export const jobsOf = async (
  name: string,
  entries: ReadonlyArray<{ readonly params: Readonly<Record<string, unknown>>; readonly file: Readonly<Record<string, unknown>> }>,
): Promise<E.Either<ConfigError, SweepGrid>> => {
  const jobs: SweepJob[] = []
  const seen = new Map<string, number>()
  for (const [i, e] of entries.entries()) {
    const decoded = decodeTrainFile(e.file)
    if (E.isLeft(decoded))
      return E.left(
        new ConfigError(
          name,
          decoded.left.issues.map((x) => ({ ...x, field: `job ${i} (${preview(e.params, 120)}): ${x.field}` })),
        ),
      )
    const id = (await sha256Hex(canonicalJson(decoded.right))).slice(0, 16)
    if (seen.has(id))
      return E.left(new ConfigError(name, [{ field: `job ${i}`, value: e.params, message: `runs the same train file as job ${seen.get(id)!}` }]))
    seen.set(id, i)
    jobs.push({ id, params: e.params, file: e.file, decoded: decoded.right })
  }
  return E.right({ name, jobs, fields: [...new Set(entries.flatMap((e) => Object.keys(e.params)))] })
}
