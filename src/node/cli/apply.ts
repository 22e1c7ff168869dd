/**
 * `polyak apply`: one normalizer step, EMA update or teacher update from a JSON spec, for checking
 * polyak's numbers against another framework. The spec format is documented in the README.
 *
 * @module cli/apply
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { unsafeUseBackend } from '../../../backends/index.js'
import { type ConfigError, type ConfigIssue, ConfigError as ConfigErrorClass, decodeConfig, required, untrustedConfig } from '../../codecs/config.js'
import { type TensorJsonError, decodeTree, encodeTree } from '../../codecs/tensorJson.js'
import type { PolyakError } from '../../core/errors.js'
import type { Ops } from '../../core/ops.js'
import { shapeOps } from '../../core/shapeOps.js'
import { type Leaf, type Tree, mapAny } from '../../core/tree.js'
import { type EmaConfig, ema } from '../../ema/ema.js'
import { type TeacherUpdateConfig, teacherUpdate } from '../../ema/teacher.js'
import { activationNormalizer, normalizerDefinition, normalizerDefinitions, weightNormalizer } from '../../norm/registry.js'

/** The operations `apply` knows besides the registered normalizers. */
const OTHER_OPS = ['ema', 'teacherUpdate'] as const

/** The operations `apply` knows now: every registered normalizer (`norm/registry`), `ema` and `teacherUpdate`. */
export const applyOps = (): string[] => [...normalizerDefinitions().map((d) => d.name), ...OTHER_OPS]

/** An operation name. */
export type ApplyOp = string

const OpC = new t.Type<string, string, unknown>(
  'op',
  (u): u is string => typeof u === 'string' && applyOps().includes(u),
  (u, c) =>
    typeof u === 'string' && applyOps().includes(u)
      ? t.success(u)
      : t.failure(
          u,
          c,
          `expected one of ${applyOps()
            .map((o) => `'${o}'`)
            .join(', ')}`,
        ),
  t.identity,
)

const specFields = {
  op: OpC,
  config: t.union([t.UnknownRecord, t.undefined]),
  mode: t.keyof({ train: null, eval: null }),
  backend: t.union([t.string, t.undefined]),
  inputs: t.union([t.UnknownRecord, t.undefined]),
  params: t.union([t.UnknownRecord, t.undefined]),
  stats: t.union([t.UnknownRecord, t.undefined]),
  context: t.union([t.partial({ step: t.number, views: t.number }), t.undefined]),
}

/** A decoded spec. */
export type ApplySpec = {
  readonly op: ApplyOp
  readonly config: Record<string, unknown> | undefined
  readonly mode: 'train' | 'eval'
  readonly backend: string | undefined
  readonly inputs: Record<string, unknown> | undefined
  readonly params: Record<string, unknown> | undefined
  readonly stats: Record<string, unknown> | undefined
  readonly context: { step?: number; views?: number } | undefined
}

/** The result printed by `polyak apply`. */
export interface ApplyResult {
  readonly op: ApplyOp
  readonly backend: string
  readonly outputs: unknown
  readonly params: unknown
  readonly stats: unknown
}

/** Decodes a spec (any JSON value), naming the field of every problem. */
export const decodeSpec = (json: unknown): E.Either<ConfigError, ApplySpec> =>
  decodeConfig(
    'apply spec',
    specFields,
    {
      op: required<ApplyOp>(),
      config: undefined,
      mode: 'train',
      backend: undefined,
      inputs: undefined,
      params: undefined,
      stats: undefined,
      context: undefined,
    },
    json,
  ) as E.Either<ConfigError, ApplySpec>

const specError = (field: string, value: unknown, message: string): ConfigError =>
  new ConfigErrorClass('apply spec', [{ field, value, message }] as ConfigIssue[])

const fromTensorJson = (e: TensorJsonError): ConfigError =>
  new ConfigErrorClass('apply spec', [{ field: e.where, message: e.message.replace(/^'[^']*': /, '') }])

const orThrow = <A>(e: E.Either<PolyakError, A>): A => {
  if (E.isLeft(e)) throw e.left
  return e.right
}

const tree = <T extends Leaf>(ops: Ops<T>, json: unknown, field: string): Tree<T> => {
  const r = decodeTree(ops, json, field)
  if (E.isLeft(r)) throw fromTensorJson(r.left)
  return r.right
}

/** A constructor's config error, its fields named as they sit in the spec (`config.decay`). */
const inConfig = (e: ConfigError): ConfigError =>
  new ConfigErrorClass(
    'apply spec',
    e.issues.map((i) => ({ ...i, field: `config.${i.field}` })),
  )

/** A registry error for the spec `{ name: op, config }`: its fields already read `config.…`; `name` is the spec's `op`. */
const fromRegistry = (e: ConfigError): ConfigError =>
  new ConfigErrorClass(
    'apply spec',
    e.issues.map((i) => ({ ...i, field: i.field === 'name' ? 'op' : i.field })),
  )

const built = <A>(e: E.Either<ConfigError, A>, rename = inConfig): A => orThrow(E.mapLeft(rename)(e))

/**
 * Runs a decoded spec on `backend` (the spec's own `backend` wins; default `'cpu'`) and returns the
 * result with every tensor read back.
 */
export const runSpec = async (spec: ApplySpec, backend = 'cpu'): Promise<ApplyResult> => {
  const name = spec.backend ?? backend
  await checkSpecShapes(spec)
  const { ops } = await unsafeUseBackend(name)
  return runSpecOn(ops, name, spec, (x) => encodeTree(ops, x))
}

/**
 * Runs a decoded spec on the shape interpreter: every output, parameter and statistic as
 * `{shape, dtype}`, or the error the real run would raise — before any real tensor exists.
 */
export const checkSpecShapes = (spec: ApplySpec): Promise<ApplyResult> => runSpecOn(shapeOps, 'shapes', spec, async (x) => shapesOf(x))

const shapesOf = (tree: unknown): unknown =>
  mapAny(tree, (leaf) => (typeof leaf === 'number' ? leaf : { shape: [...(leaf as Leaf).shape], dtype: (leaf as Leaf).dtype }))

const runSpecOn = async <T extends Leaf>(ops: Ops<T>, name: string, spec: ApplySpec, encode: (x: unknown) => Promise<unknown>): Promise<ApplyResult> => {
  const inputs = spec.inputs ?? {}
  const context = spec.context ?? {}
  const result = (outputs: unknown, params: unknown, stats: unknown) => ({ op: spec.op, backend: name, outputs, params, stats })

  const definition = normalizerDefinition(spec.op)
  if (definition?.kind === 'activation') {
    const normalizer = built(activationNormalizer(ops, { name: spec.op, config: spec.config ?? {} }), fromRegistry)!
    if (inputs.x === undefined)
      throw specError('inputs.x', undefined, 'this op normalises inputs.x: give it as {shape, data} with channels last ([N, C] or [N, H, W, C])')
    const x = tree(ops, inputs.x, 'inputs.x') as T
    const init = normalizer.init(x.shape[x.shape.length - 1] ?? 0) as { params: unknown; stats: unknown }
    const params = spec.params === undefined ? init.params : tree(ops, spec.params, 'params')
    const stats = spec.stats === undefined ? init.stats : tree(ops, spec.stats, 'stats')
    const [y, next] = normalizer.apply(x, spec.mode, context)({ params, stats })
    return result({ y: await encode(y) }, await encode(next.params), await encode(next.stats))
  }

  if (definition?.kind === 'weight') {
    const wn = built(weightNormalizer(ops, { name: spec.op, config: spec.config ?? {} }), fromRegistry)!
    const given = spec.params === undefined ? {} : (tree(ops, spec.params, 'params') as Record<string, T>)
    const weight = given.weight ?? (inputs.weight === undefined ? undefined : (tree(ops, inputs.weight, 'inputs.weight') as T))
    if (weight === undefined) throw specError('params.weight', undefined, 'give the raw weight as params.weight (or inputs.weight)')
    const params = { ...wn.init(weight).params, ...given, weight }
    const [w, next] = wn.apply()({ params, stats: {} })
    return result({ weight: await encode(w) }, await encode(next.params), {})
  }

  if (spec.op === 'ema') {
    const avg = built(ema(ops, untrustedConfig<EmaConfig>(spec.config ?? {})))
    if (Object.keys(inputs).length === 0) throw specError('inputs', inputs, 'give the new value(s) to average as inputs (a tensor or a tree of them)')
    const x = tree(ops, inputs, 'inputs')
    let stats
    if (spec.stats === undefined) stats = avg.init(x).stats
    else {
      const s = spec.stats as { average?: unknown; count?: unknown; decayProduct?: unknown }
      if (!Number.isInteger(s.count) || (s.count as number) < 0)
        throw specError('stats.count', s.count, 'expected the number of updates so far (an integer ≥ 0)')
      if (typeof s.decayProduct !== 'number')
        throw specError('stats.decayProduct', s.decayProduct, 'expected the product of the decays so far (1 before any update)')
      stats = { average: tree(ops, s.average, 'stats.average'), count: s.count as number, decayProduct: s.decayProduct }
    }
    const [value, next] = avg.update(x)({ params: {}, stats })
    return result(await encode(value), {}, await encode(next.stats))
  }

  // teacherUpdate: the config is the library's (decay, policy, prefixes, others)
  const config = (spec.config ?? {}) as Record<string, unknown>
  if (Object.hasOwn(config, 'donate')) throw specError('config.donate', config.donate, 'not an apply option: apply never donates its inputs')
  const update = built(teacherUpdate(ops, untrustedConfig<TeacherUpdateConfig>(config)))
  const student = inputs.student as { params?: unknown; stats?: unknown } | undefined
  if (student === undefined || student.params === undefined) {
    throw specError('inputs.student', student, 'give the student state as inputs.student = {params, stats}; the teacher is params/stats')
  }
  if (spec.params === undefined) throw specError('params', undefined, "give the teacher's parameters (the state being updated)")
  const s = {
    params: tree(ops, student.params, 'inputs.student.params'),
    stats: student.stats === undefined ? {} : tree(ops, student.stats, 'inputs.student.stats'),
  }
  const teacher = { params: tree(ops, spec.params, 'params'), stats: spec.stats === undefined ? {} : tree(ops, spec.stats, 'stats') }
  const [report, next] = update(s, context.step ?? 0)(teacher)
  return result({ report }, await encode(next.params), await encode(next.stats))
}
