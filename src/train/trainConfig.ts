/**
 * The validated configuration file of `polyak train`: one pipeline, its settings and the data
 * budget. Every field is checked with io-ts; errors name the field, the value and the fix.
 *
 *     { "kind": "semiSupervised" | "selfSupervised" | "supervised",
 *       "backend": "wasm",                                  (optional)
 *       "data": { "dataset": "mnist" | "fashion", "trainImages": 20000, "testImages": 2000 }, (optional)
 *       "model": { "kind": "resnet", "depth": 20, "width": 16, "norm": "batchNorm" },       (optional, `nn/spec`)
 *       "config": { ...the pipeline's settings, each optional (defaults below) } }
 *
 * Without `model`, the pipeline trains the convNet of `config.widths`.
 *
 * @module train/trainConfig
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import {
  type ConfigError,
  ConfigError as ConfigErrorClass,
  type ConfigIssue,
  Decay,
  type Decoded,
  NonNegativeInt,
  PositiveFinite,
  PositiveInt,
  decodeConfig,
  required,
} from '../codecs/config.js'
import { type JsonModelSpec, ModelSpecC, decodeModelSpec } from '../nn/spec.js'
import { checkSpec, normSpecCodec } from '../norm/registry.js'
import { SELF_DEFAULTS, type SelfSupervisedConfig } from './selfSupervised.js'
import { SEMI_DEFAULTS, type SemiSupervisedConfig } from './semiSupervised.js'
import type { SupervisedConfig } from './supervised.js'

const Fraction = t.brand(t.number, (n): n is t.Branded<number, { readonly Fraction: unique symbol }> => n > 0 && n <= 1, 'Fraction')
const NonNegative = t.brand(t.number, (n): n is t.Branded<number, { readonly NonNegative: unique symbol }> => Number.isFinite(n) && n >= 0, 'NonNegative')
const Widths = t.array(PositiveInt, 'Widths')
/** The decoded model spec the train file's top-level `model` put into the config (decoded there, with its own messages). */
const ModelField = t.union([ModelSpecC, t.undefined])

const semiFields = {
  method: t.keyof({ fixmatch: null, meanTeacher: null }),
  teacher: t.keyof({ none: null, bn: null, eman: null }),
  labelledFraction: Fraction,
  labelsPerClass: t.union([PositiveInt, t.undefined]),
  steps: PositiveInt,
  batchLabelled: PositiveInt,
  batchUnlabelled: PositiveInt,
  threshold: Decay,
  lambdaU: NonNegative,
  lr: PositiveFinite,
  weightDecay: NonNegative,
  emaDecay: Decay,
  emaWarmup: t.boolean,
  widths: Widths,
  model: ModelField,
  seed: NonNegativeInt,
  evalEvery: NonNegativeInt,
  evalLimit: PositiveInt,
}

const selfFields = {
  method: t.keyof({
    'byol-bn': null,
    'byol-eman': null,
    'byol-m2': null,
    'moco-bn': null,
    'moco-eman': null,
    simclr: null,
    'simclr-encoder': null,
    'simclr-projector': null,
  }),
  steps: PositiveInt,
  batchSize: PositiveInt,
  lr: PositiveFinite,
  emaBase: Decay,
  widths: Widths,
  model: ModelField,
  projector: t.type({ hidden: PositiveInt, out: PositiveInt }),
  seed: NonNegativeInt,
  probeTrain: PositiveInt,
  probeTest: PositiveInt,
  queueSize: PositiveInt,
  evalEvery: NonNegativeInt,
}

const supervisedFields = {
  norm: normSpecCodec('activation'),
  weightNorm: normSpecCodec('weight'),
  batchSize: PositiveInt,
  samples: PositiveInt,
  lr: PositiveFinite,
  widths: Widths,
  model: ModelField,
  seed: NonNegativeInt,
  evalLimit: PositiveInt,
  optimizer: t.keyof({ adam: null, sgd: null }),
  momentum: Decay,
  weightDecay: NonNegative,
  evalEvery: NonNegativeInt,
}

/** Defaults of a supervised run. */
export const SUPERVISED_DEFAULTS: SupervisedConfig = {
  norm: 'batchNorm',
  weightNorm: 'none',
  batchSize: 64,
  samples: 8192,
  lr: 1e-3,
  widths: [16, 32],
  seed: 0,
  evalLimit: 2000,
  optimizer: 'adam',
  momentum: 0.9,
  weightDecay: 0,
  evalEvery: 0,
}

/** A decoded training file. */
export type TrainFile =
  | { readonly kind: 'semiSupervised'; readonly backend?: string; readonly data: DataBudget; readonly config: SemiSupervisedConfig }
  | { readonly kind: 'selfSupervised'; readonly backend?: string; readonly data: DataBudget; readonly config: SelfSupervisedConfig }
  | { readonly kind: 'supervised'; readonly backend?: string; readonly data: DataBudget; readonly config: SupervisedConfig }

/** The data sets a run can read: MNIST, or Fashion-MNIST (harder; the effects are larger). */
export type DatasetName = 'mnist' | 'fashion'

/** Which data set a run reads, and how much of it. */
export interface DataBudget {
  readonly dataset: DatasetName
  readonly trainImages: number
  readonly testImages: number
  /** Image side in pixels: 28 (the datasets' own) or 14 (2×2 average-pooled, the default: a quarter of the compute). */
  readonly resolution: Resolution
  /**
   * What the run is evaluated on: `'test'` (the default; `testImages` of the test split) or
   * `'validation'` (`testImages` of the training split from image `trainImages` on, disjoint from
   * the images trained on: for choosing settings without looking at the test split).
   */
  readonly evaluateOn: 'test' | 'validation'
}

/** Images in each data set's training split (MNIST and Fashion-MNIST alike). */
export const TRAIN_SPLIT_IMAGES = 60000

/** The image sides a train file can ask for. */
export type Resolution = 14 | 28

const ResolutionC = new t.Type<Resolution, Resolution, unknown>(
  'Resolution',
  (u): u is Resolution => u === 14 || u === 28,
  (u, c) => (u === 14 || u === 28 ? t.success(u) : t.failure(u, c, 'expected 14 or 28 (pixels per side)')),
  t.identity,
)

/** Every normalizer spec is checked as the model will build it: for each stage's channels, with the run's horizon. */
const supervisedIssues = (c: Decoded<typeof supervisedFields>): ConfigIssue[] => {
  const totalSteps = Math.ceil(c.samples / c.batchSize)
  const at = (field: string, issues: ConfigIssue[]) => issues.map((i) => ({ ...i, field: i.field === 'name' ? field : `${field}.${i.field}` }))
  const norm = c.widths.flatMap((channels) => at('norm', checkSpec('activation', c.norm, { channels, totalSteps })))
  const weight = at('weightNorm', checkSpec('weight', c.weightNorm))
  // one issue per field: the first stage that fails says what is wrong
  return [...norm.slice(0, 1), ...weight.slice(0, 1)]
}

const prefix = (e: ConfigError, p: string): ConfigError =>
  new ConfigErrorClass(
    'train file',
    e.issues.map((i) => ({ ...i, field: `${p}.${i.field}` })),
  )

/** A decoded config with its optional `model` left out when absent (the config types say "absent", not "undefined"). */
const withModel = <C extends { readonly model: JsonModelSpec | undefined }>(c: C): Omit<C, 'model'> & { readonly model?: JsonModelSpec } => {
  const { model, ...rest } = c
  return model === undefined ? rest : { ...rest, model }
}

/** Decodes a training file's JSON. */
export const decodeTrainFile = (json: unknown): E.Either<ConfigError, TrainFile> => {
  const top = decodeConfig(
    'train file',
    {
      kind: t.keyof({ semiSupervised: null, selfSupervised: null, supervised: null }),
      backend: t.union([t.string, t.undefined]),
      data: t.union([t.UnknownRecord, t.undefined]),
      model: t.unknown,
      config: t.union([t.UnknownRecord, t.undefined]),
    },
    { kind: required<'supervised'>(), backend: undefined, data: undefined, model: undefined, config: undefined },
    json,
  )
  if (E.isLeft(top)) return top
  const { kind, backend, data, config: rawConfig, model: rawModel } = top.right
  let config = rawConfig
  if (rawModel !== undefined) {
    const widths = (rawConfig as { widths?: unknown } | undefined)?.widths
    const m = decodeModelSpec(rawModel, Array.isArray(widths) ? (widths as number[]) : undefined)
    if (E.isLeft(m)) return E.left(prefix(m.left, 'model'))
    config = { ...(rawConfig ?? {}), model: m.right satisfies JsonModelSpec }
  }
  const d = decodeConfig(
    'train file',
    {
      dataset: t.keyof({ mnist: null, fashion: null }),
      trainImages: PositiveInt,
      testImages: PositiveInt,
      resolution: ResolutionC,
      evaluateOn: t.keyof({ test: null, validation: null }),
    },
    { dataset: 'mnist' as const, trainImages: 20000 as PositiveInt, testImages: 2000 as PositiveInt, resolution: 14 as const, evaluateOn: 'test' as const },
    data,
    (b) =>
      b.evaluateOn === 'validation' && b.trainImages + b.testImages > TRAIN_SPLIT_IMAGES
        ? [
            {
              field: 'testImages',
              value: b.testImages,
              message: `the validation images follow the ${b.trainImages} training images in the ${TRAIN_SPLIT_IMAGES}-image training split: trainImages + testImages must be ≤ ${TRAIN_SPLIT_IMAGES}`,
            },
          ]
        : [],
  )
  if (E.isLeft(d)) return E.left(prefix(d.left, 'data'))
  const withBackend = backend === undefined ? {} : { backend }
  if (kind === 'semiSupervised') {
    const c = decodeConfig('train file', semiFields, SEMI_DEFAULTS as never, config)
    return E.isLeft(c) ? E.left(prefix(c.left, 'config')) : E.right({ kind, ...withBackend, data: d.right, config: withModel(c.right) })
  }
  if (kind === 'selfSupervised') {
    const c = decodeConfig('train file', selfFields, SELF_DEFAULTS as never, config)
    return E.isLeft(c) ? E.left(prefix(c.left, 'config')) : E.right({ kind, ...withBackend, data: d.right, config: withModel(c.right) })
  }
  const c = decodeConfig('train file', supervisedFields, SUPERVISED_DEFAULTS as never, config, supervisedIssues)
  return E.isLeft(c) ? E.left(prefix(c.left, 'config')) : E.right({ kind, ...withBackend, data: d.right, config: withModel(c.right) })
}
