/**
 * Model specs: how a pipeline, a train file or `polyak check` names a backbone, and how the
 * pipelines turn one into a `Model` with the heads they need.
 *
 *     { "kind": "convNet", "widths": [16, 32] }
 *     { "kind": "resnet", "depth": 20, "width": 16, "norm": "batchNorm" }
 *     { "kind": "resnet", "depth": 50, "style": "imagenet", "norm": "groupNorm", "weightNorm": "weightAlign" }
 *
 * and, in code only, `{ kind: 'module', backbone }`: any `Module` of the user's that maps images to
 * features. `norm` and `weightNorm` are registry specs; absent, the pipeline's defaults apply
 * (BatchNorm for the student of a teacher pipeline). Every field is checked with io-ts, and the
 * errors name it (`model.depth: …`).
 *
 * @module nn/spec
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { ConfigError, type ConfigIssue, PositiveInt, decodeConfig } from '../codecs/config.js'
import { InvalidArgumentError, PolyakError, showShape } from '../core/errors.js'
import { type NormSpec, checkSpec, normSpecCodec } from '../norm/registry.js'
import { type HeadConfig, type Model, convNetBackbone, network } from './model.js'
import type { Module } from './module.js'
import { type ResNetBlock, resnetBackbone, resnetLayout } from './resnet.js'

/** A model spec that JSON can hold (train files, `polyak check`). */
export type JsonModelSpec =
  | { readonly kind: 'convNet'; readonly widths: readonly number[]; readonly norm?: NormSpec; readonly weightNorm?: NormSpec }
  | {
      readonly kind: 'resnet'
      readonly depth: number
      readonly width?: number
      readonly style?: 'cifar' | 'imagenet'
      readonly block?: ResNetBlock
      readonly norm?: NormSpec
      readonly weightNorm?: NormSpec
    }

/** A backbone of the user's, given in code: a `Module` from images `[H, W, C]` to features `[F]`. */
export interface ModuleSpec {
  readonly kind: 'module'
  readonly backbone: Module
  /** A name for messages and checkpoints (default `'module'`). */
  readonly name?: string
  readonly norm?: NormSpec
  readonly weightNorm?: NormSpec
}

/** What a pipeline's `model` takes. */
export type ModelSpec = JsonModelSpec | ModuleSpec

/** What the pipeline adds to a spec: the input, the heads, the horizon and its default normalizers. */
export interface ModelSetting {
  readonly inputShape: readonly [number, number, number]
  readonly classes?: number
  readonly projector?: HeadConfig
  readonly predictor?: HeadConfig
  readonly totalSteps?: number
  /** The activation normalizer when the spec names none. */
  readonly norm: NormSpec
  /** The weight normalizer when the spec names none (default `'none'`). */
  readonly weightNorm?: NormSpec
}

/** The backbone a spec names. */
export const backboneOf = (spec: ModelSpec, inputShape: readonly [number, number, number]): Module => {
  if (spec.kind === 'module') {
    if (typeof spec.backbone?.build !== 'function') throw new InvalidArgumentError('model.backbone', 'must be a Module (an object with build(env, inShape))')
    return spec.backbone
  }
  if (spec.kind === 'convNet') {
    if (spec.widths.length === 0) throw new InvalidArgumentError('model.widths', 'needs at least one conv stage')
    return convNetBackbone(inputShape, spec.widths, (spec.norm ?? 'batchNorm') === 'none')
  }
  if (spec.kind === 'resnet') return resnetBackbone({ ...spec, inputShape })
  throw new InvalidArgumentError('model.kind', `expected 'convNet', 'resnet' or 'module', got '${String((spec as { kind: unknown }).kind)}'`)
}

/**
 * The `Model` of a spec with a pipeline's heads: `network` over the spec's backbone, the spec's
 * normalizers or else the setting's. Its `withNorm` keeps the spec (a teacher of the same backbone).
 */
export const buildModel = (spec: ModelSpec, setting: ModelSetting): Model<ModelSpec> => {
  const norm = spec.norm ?? setting.norm
  const weightNorm = spec.weightNorm ?? setting.weightNorm ?? 'none'
  // convNet's convolutions carry a bias only without a normalizer: decided by the model's norm
  const backbone = backboneOf(spec.kind === 'convNet' ? { ...spec, norm } : spec, setting.inputShape)
  return network<ModelSpec>(
    {
      inputShape: setting.inputShape,
      backbone,
      norm,
      weightNorm,
      ...(setting.totalSteps === undefined ? {} : { totalSteps: setting.totalSteps }),
      ...(setting.classes === undefined ? {} : { classes: setting.classes }),
      ...(setting.projector === undefined ? {} : { projector: setting.projector }),
      ...(setting.predictor === undefined ? {} : { predictor: setting.predictor }),
      initLabel: spec.kind === 'convNet' ? 'convNet.init' : spec.kind === 'resnet' ? 'resnet.init' : 'network.init',
    },
    spec,
    (next) => buildModel({ ...spec, norm: next }, setting),
  )
}

/**
 * What identifies a model in a checkpoint: the spec (a `module` by its name) and its layer table
 * (`path kind shape`), so resuming with another architecture is refused.
 */
export const modelIdentity = (model: Model): { readonly spec: unknown; readonly layers: readonly string[] } => {
  const config = model.config as Partial<ModelSpec> | undefined
  const spec = config?.kind === 'module' ? { kind: 'module', name: config.name ?? 'module', norm: config.norm, weightNorm: config.weightNorm } : config
  return { spec, layers: model.layers().map((r) => `${r.path} ${r.kind} ${showShape(r.outShape)}`) }
}

const Widths = t.array(PositiveInt, 'Widths')
const optional = <C extends t.Mixed>(c: C) => t.union([c, t.undefined])

const convNetFields = { kind: t.literal('convNet'), widths: Widths, norm: optional(normSpecCodec('activation')), weightNorm: optional(normSpecCodec('weight')) }
const resnetFields = {
  kind: t.literal('resnet'),
  depth: PositiveInt,
  width: optional(PositiveInt),
  style: optional(t.keyof({ cifar: null, imagenet: null })),
  block: optional(t.keyof({ basic: null, bottleneck: null })),
  norm: optional(normSpecCodec('activation')),
  weightNorm: optional(normSpecCodec('weight')),
}

/** The layout checks of a ResNet spec (depth for its style and block), as config issues. */
const resnetIssues = (c: {
  depth: number
  style?: 'cifar' | 'imagenet' | undefined
  block?: ResNetBlock | undefined
  width?: number | undefined
}): ConfigIssue[] => {
  try {
    resnetLayout({ depth: c.depth, ...(c.style === undefined ? {} : { style: c.style }), ...(c.block === undefined ? {} : { block: c.block }) })
    return []
  } catch (e) {
    if (!(e instanceof PolyakError)) throw e
    const field = e.where.replace(/^resnet: /, '')
    return [{ field, value: (c as Record<string, unknown>)[field], message: e.message.replace(/^invalid argument '[^']*': /, '') }]
  }
}

/** Each normalizer spec of a model spec, checked as the model would build it (by name and config). */
const normIssues = (c: { norm?: NormSpec | undefined; weightNorm?: NormSpec | undefined }): ConfigIssue[] => [
  ...(c.norm === undefined
    ? []
    : checkSpec('activation', c.norm, { channels: 64 }).map((i) => ({ ...i, field: i.field === 'name' ? 'norm' : `norm.${i.field}` }))),
  ...(c.weightNorm === undefined
    ? []
    : checkSpec('weight', c.weightNorm).map((i) => ({ ...i, field: i.field === 'name' ? 'weightNorm' : `weightNorm.${i.field}` }))),
]

/**
 * Decodes a JSON model spec (a train file's `model`, `polyak check --model`), naming each bad field.
 * `widths` defaults to `defaultWidths` for a convNet.
 */
export const decodeModelSpec = (json: unknown, defaultWidths: readonly number[] = [16, 32]): E.Either<ConfigError, JsonModelSpec> => {
  const kind = (json as { kind?: unknown } | null)?.kind
  if (kind === 'convNet') {
    return decodeConfig(
      'model',
      convNetFields,
      { kind: 'convNet', widths: defaultWidths as t.TypeOf<typeof Widths>, norm: undefined, weightNorm: undefined },
      json,
      normIssues,
    ) as E.Either<ConfigError, JsonModelSpec>
  }
  if (kind === 'resnet') {
    return decodeConfig(
      'model',
      resnetFields,
      { kind: 'resnet', depth: 20 as PositiveInt, width: undefined, style: undefined, block: undefined, norm: undefined, weightNorm: undefined },
      json,
      (c) => [...resnetIssues(c), ...normIssues(c)],
    ) as E.Either<ConfigError, JsonModelSpec>
  }
  return E.left(
    new ConfigError('model', [
      {
        field: 'kind',
        value: kind,
        message:
          json === null || typeof json !== 'object' || Array.isArray(json)
            ? `expected a model spec object such as { "kind": "resnet", "depth": 20 }`
            : `expected 'convNet' or 'resnet' (a module of your own is given in code as { kind: 'module', backbone })`,
      },
    ]),
  )
}

/** The io-ts codec of a JSON model spec, for configs that embed one (decoding runs `decodeModelSpec`). */
export const ModelSpecC = new t.Type<JsonModelSpec, JsonModelSpec, unknown>(
  'ModelSpec',
  (u): u is JsonModelSpec => E.isRight(decodeModelSpec(u)),
  (u, c) => {
    const r = decodeModelSpec(u)
    if (E.isRight(r)) return t.success(r.right)
    const i = r.left.issues[0]!
    return t.failure(u, c, `${i.field}: ${i.message}`)
  },
  t.identity,
)
