/**
 * polyak's own subjects for every law suite, and the catalogue: which laws run on which subjects,
 * and which law a subject is expected to FAIL (train-mode BatchNorm is not batch-independent).
 *
 * @module laws/subjects
 */
import fc from 'fast-check'
import type { Ops } from '../src/core/ops.js'
import { batchNormFields } from '../src/norm/batchNorm.js'
import { groupNormFields } from '../src/norm/groupNorm.js'
import { type VarianceCorrection, momentumBatchNormFields } from '../src/norm/momentumBatchNorm.js'
import { weightAlignFields } from '../src/norm/weightAlign.js'
import { configArb } from './arbitraries.js'
import { shapeOps } from '../src/core/shapeOps.js'
import { shapesAgree } from './shapes.js'
import { unsafe } from '../src/codecs/config.js'
import type { Normalizer } from '../src/norm/normalizer.js'
import { activationNormalizer, normalizerDefinitions, weightNormalizer } from '../src/norm/registry.js'
import type { WeightNormalizer } from '../src/norm/weightStandardization.js'
import type { Leaf } from '../src/core/tree.js'
import { emaLeaf, unsafeEma } from '../src/ema/ema.js'
import { emanPolicy, paramsEmaStatsCopy, projectorOnly, unsafeTeacherUpdate, weightsOnly } from '../src/ema/teacher.js'
import { underPrefix } from '../src/core/tree.js'
import { WS_REFERENCE_PYTORCH, WS_REFERENCE_TF, WS_TIMM, unsafeWeightStandardization } from '../src/norm/weightStandardization.js'
import { type AnyTransition, type Slots, transition } from '../src/core/transition.js'
import { type BatchNormParams, type BatchNormStats, unsafeBatchNorm } from '../src/norm/batchNorm.js'
import { unsafeEmanUpdate, unsafeEman } from '../src/norm/eman.js'
import { unsafeGroupNorm, unsafeInstanceNorm, unsafeLayerNorm } from '../src/norm/groupNorm.js'
import { unsafeMomentumBatchNorm } from '../src/norm/momentumBatchNorm.js'
import { unsafeWeightAlign } from '../src/norm/weightAlign.js'
import { type EmaStep, type EmaTransformSubject, emaDebias, emaStepLaws } from './ema.js'
import { type TransitionSubject, axpbyDonation, backendConformance, transitionLaws } from './generic.js'
import { type LawResult, type RunOptions, type SomeLaw, runLaws } from './law.js'
import {
  type BatchForwardSubject,
  type BatchNormSubject,
  type DeclaredNormalizerSubject,
  type GroupNormSubject,
  type MomentumBnSubject,
  type WeightAlignSubject,
  batchIndependence,
  batchNormLaws,
  declaredStats,
  groupNormLaws,
  momentumBnLaws,
  weightAlignLaws,
  type WeightStandardizationSubject,
  weightStandardizationLaws,
} from './normalizers.js'
import { type TeacherPresetSubject, type TeacherUpdateSubject, teacherLaws, teacherPresetLaws } from './teacher.js'
import { type ScheduleSubject, scheduleLaws } from './schedules.js'
import { type ModelSubject, modelBatchIndependence, modelLaws } from './models.js'
import { type LayersTeacherSubject, layersTeacherLaws } from './layers.js'
import { constant, cosineToOne, momentumBnAlpha, warmup } from '../src/ema/schedules.js'
import { convNet } from '../src/nn/model.js'
import { resnet } from '../src/nn/resnet.js'

/** polyak's EMA step (`emaLeaf`). */
export const polyakEmaStep: EmaStep = (ops, avg, x, decay) => emaLeaf(ops, avg, x, decay)

/** polyak's zero-init, debiased `ema`. */
export const polyakDebiasedEma: EmaTransformSubject = { make: (ops, decay) => unsafeEma(ops, { decay, debias: true }) }

/** polyak's named teacher policies: by name through `teacherUpdate`'s config, as the exported policy functions, and `emanUpdate`. */
export const polyakTeacherPresets: ReadonlyArray<{ readonly name: string; readonly subject: TeacherPresetSubject }> = [
  {
    name: "teacherUpdate({ policy: 'eman' | 'weightsOnly' | … })",
    subject: {
      presets: ['eman', 'weightsOnly', 'paramsEmaStatsCopy', 'projectorOnly'],
      update: (ops, student, teacher, decay, p) =>
        unsafeTeacherUpdate(ops, {
          decay,
          policy: p.name,
          ...(p.prefixes === undefined ? {} : { prefixes: p.prefixes }),
          ...(p.others === undefined ? {} : { others: p.others }),
        })(student)(teacher)[1],
    },
  },
  {
    name: 'emanPolicy, weightsOnly, paramsEmaStatsCopy, projectorOnly(…)',
    subject: {
      presets: ['eman', 'weightsOnly', 'paramsEmaStatsCopy', 'projectorOnly'],
      update: (ops, student, teacher, decay, p) => {
        const policy =
          p.name === 'eman'
            ? emanPolicy
            : p.name === 'weightsOnly'
              ? weightsOnly
              : p.name === 'paramsEmaStatsCopy'
                ? paramsEmaStatsCopy
                : p.others === undefined
                  ? projectorOnly(underPrefix(...(p.prefixes ?? [])))
                  : projectorOnly(underPrefix(...(p.prefixes ?? [])), p.others)
        return unsafeTeacherUpdate(ops, { decay, policy })(student)(teacher)[1]
      },
    },
  },
  { name: 'emanUpdate', subject: { presets: ['eman'], update: (ops, student, teacher, decay) => unsafeEmanUpdate(ops, { decay })(student)(teacher)[1] } },
]

/** polyak's weight standardisation: timm's default and the two reference presets, each claiming its own conventions. */
export const polyakWeightStandardizations: ReadonlyArray<{ readonly name: string; readonly subject: WeightStandardizationSubject }> = [
  {
    name: 'weightStandardization (timm StdConv2d: biased, ε 1e-6 in the root)',
    subject: { make: (ops, layout) => unsafeWeightStandardization(ops, { layout }), estimator: 'biased', epsilon: 1e-6, epsilonPlacement: 'variance' },
  },
  ...(
    [
      ['WS_TIMM', WS_TIMM, 'biased', 1e-6, 'variance'],
      ['WS_REFERENCE_PYTORCH', WS_REFERENCE_PYTORCH, 'unbiased', 1e-5, 'std'],
      ['WS_REFERENCE_TF', WS_REFERENCE_TF, 'biased', 1e-5, 'std'],
    ] as const
  ).map(([name, preset, estimator, epsilon, epsilonPlacement]) => ({
    name: `weightStandardization(${name})`,
    subject: {
      make: (ops, layout) => unsafeWeightStandardization(ops, { ...preset, layout }),
      estimator,
      epsilon,
      epsilonPlacement,
    } as WeightStandardizationSubject,
  })),
]

/** polyak's `teacherUpdate`. */
export const polyakTeacherUpdate: TeacherUpdateSubject = (ops, student, teacher, decay, policy) =>
  unsafeTeacherUpdate(ops, { decay, policy })(student)(teacher)[1]

/** polyak's `batchNorm` with PyTorch defaults. */
export const polyakBatchNorm: BatchNormSubject = { make: (ops) => unsafeBatchNorm(ops), decay: 0.9, epsilon: 1e-5, runningVariance: 'unbiased' }

/** polyak's `momentumBatchNorm`. */
export const polyakMomentumBn: MomentumBnSubject = { make: (ops, totalSteps) => unsafeMomentumBatchNorm(ops, { totalSteps }) }

/** polyak's `momentumBatchNorm` read as plain BatchNorm: normalise with the biased variance, store the unbiased one. */
export const polyakMomentumBnPlain: MomentumBnSubject = {
  make: (ops, totalSteps) => unsafeMomentumBatchNorm(ops, { totalSteps, normalizeVariance: 'biased', storedVariance: 'unbiased' }),
  normalizeVariance: 'biased',
  storedVariance: 'unbiased',
}

/** polyak's `momentumBatchNorm` with the reference code's double Bessel correction. */
export const polyakMomentumBnReference: MomentumBnSubject = {
  make: (ops, totalSteps) => unsafeMomentumBatchNorm(ops, { totalSteps, referenceDoubleBessel: true }),
  normalizeVariance: 'unbiasedTwice',
  storedVariance: 'unbiasedTwice',
}

/** polyak's `groupNorm` (2 groups), `layerNorm` and `instanceNorm` as group-moment subjects. */
export const polyakGroupNorms: ReadonlyArray<{ readonly name: string; readonly subject: GroupNormSubject }> = [
  { name: 'groupNorm (2 groups)', subject: { make: (ops) => unsafeGroupNorm(ops, { groups: 2 }) as never, groups: () => 2, epsilon: 1e-5 } },
  { name: 'layerNorm', subject: { make: (ops) => unsafeLayerNorm(ops) as never, groups: () => 1, epsilon: 1e-5 } },
  { name: 'instanceNorm', subject: { make: (ops) => unsafeInstanceNorm(ops) as never, groups: (c) => c, epsilon: 1e-5 } },
]

/** polyak's `weightAlign` with the default gain √2 and ε = 1e-5. */
export const polyakWeightAlign: WeightAlignSubject = { make: (ops, layout) => unsafeWeightAlign(ops, { layout }), gain: Math.SQRT2, epsilon: 1e-5 }

const CHANNELS = 4

/** Trained-looking BatchNorm statistics, for the eval-mode subjects. */
const trainedStats = <T extends Leaf>(ops: Ops<T>) => ({
  params: { gamma: ops.tensor([1, 0.5, 2, 1.5], [CHANNELS]), beta: ops.tensor([0, 0.1, -0.2, 0.3], [CHANNELS]) },
  stats: { mean: ops.tensor([0.5, -1, 0, 2], [CHANNELS]), variance: ops.tensor([1, 4, 0.25, 2], [CHANNELS]), count: ops.scalar(10, 'int32') },
})

/** A 3×3 convolution of `x` with a fixed kernel through a weight normalizer (HWIO). */
const normalizedConv = <T extends Leaf>(ops: Ops<T>, x: T, weightNorm: WeightNormalizer<T, { readonly weight: T }>): T => {
  const kernel = ops.tensor(
    Array.from({ length: 3 * 3 * CHANNELS * CHANNELS }, (_, i) => Math.sin(i * 1.7) + 0.1 * (i % 5)),
    [3, 3, CHANNELS, CHANNELS],
  )
  return ops.conv2d(x, weightNorm.transform(weightNorm.init(kernel).params), 1, 'same')
}

const waConv = <T extends Leaf>(ops: Ops<T>, x: T): T => normalizedConv(ops, x, unsafeWeightAlign(ops, { layout: 'HWIO' }) as never)

/** Batch-forward subjects with the expected outcome of the batch-independence law. */
export const batchForwardSubjects: ReadonlyArray<{ readonly name: string; readonly subject: BatchForwardSubject; readonly expect: 'pass' | 'fail' }> = [
  { name: 'eman teacher', expect: 'pass', subject: { channels: CHANNELS, forward: (ops, x) => unsafeEman(ops).apply(x, 'train')(trainedStats(ops))[0] } },
  { name: 'weightAlign conv', expect: 'pass', subject: { channels: CHANNELS, forward: waConv } },
  {
    name: 'weightAlign conv + groupNorm',
    expect: 'pass',
    subject: {
      channels: CHANNELS,
      forward: (ops, x) => {
        const gn = unsafeGroupNorm(ops, { groups: 2 })
        return gn.apply(waConv(ops, x), 'train')(gn.init(CHANNELS))[0]
      },
    },
  },
  { name: 'batchNorm eval', expect: 'pass', subject: { channels: CHANNELS, forward: (ops, x) => unsafeBatchNorm(ops).apply(x, 'eval')(trainedStats(ops))[0] } },
]

/** Transition subjects: one step of each of polyak's stateful transitions. */
export const transitionSubjects: ReadonlyArray<{ readonly name: string; readonly subject: TransitionSubject }> = [
  {
    name: 'momentumBatchNorm two-view step',
    subject: {
      make: (ops) => {
        const n = unsafeMomentumBatchNorm(ops, { totalSteps: 10 })
        return { init: () => n.init(3), step: (x) => n.apply(x, 'train', { step: 3, views: 2 }), inputShape: [4, 3] }
      },
    },
  },
  {
    name: 'eman teacher update',
    subject: {
      make: <T extends Leaf>(ops: Ops<T>) => {
        const bn = unsafeBatchNorm(ops)
        const update = unsafeEmanUpdate(ops, { decay: 0.99 })
        return {
          init: () => bn.init(3),
          // the student is the teacher's state after a BN step on x, so the update has real work to do;
          // transition() frees the intermediate student state and BN output
          step: (x: T) =>
            transition(ops, (teacher: Slots<BatchNormParams<T>, BatchNormStats<T>>) => {
              const [, student] = bn.apply(x, 'train')(teacher)
              return update(student)(teacher)
            }) as AnyTransition,
          inputShape: [4, 3],
        }
      },
    },
  },
]

/** A registered activation normalizer built as a model would build it for `channels` channels (its `modelDefaults` applied). */
const registered = <T extends Leaf>(ops: Ops<T>, name: string, channels: number): Normalizer<T, unknown, unknown> =>
  unsafe(activationNormalizer(ops, name, { channels, totalSteps: 10 }))!

/**
 * What every normalizer in the registry claims, as catalogue entries, built at the time of the call
 * (so normalizers registered by user code are included): batch independence as its
 * `batchDependent` capability says (train mode, from `init`), its declared statistics, and the
 * transition laws of its train step. Weight normalizers: batch independence of a convolution with
 * the normalised weight.
 */
export const registryEntries = (): CatalogueEntry[] =>
  normalizerDefinitions().flatMap((d): CatalogueEntry[] => {
    const subject = `${d.name} (registered)`
    if (d.kind === 'weight') {
      const forward: BatchForwardSubject = {
        channels: CHANNELS,
        forward: (ops, x) => normalizedConv(ops, x, unsafe(weightNormalizer(ops, d.name, { layout: 'HWIO' }))!),
      }
      return [entry('independence', subject, forward, [batchIndependence])]
    }
    const forward: BatchForwardSubject = {
      channels: CHANNELS,
      forward: (ops, x) => {
        const n = registered(ops, d.name, CHANNELS)
        return n.apply(x, 'train', { step: 0 })(n.init(CHANNELS))[0]
      },
    }
    const declared: DeclaredNormalizerSubject = { make: (ops, channels) => registered(ops, d.name, channels), hasStats: d.capabilities.hasStats }
    const step: TransitionSubject = {
      make: (ops) => {
        const n = registered(ops, d.name, 3)
        return { init: () => n.init(3), step: (x) => n.apply(x, 'train', { step: 1 }), inputShape: [4, 2, 3] }
      },
    }
    return [
      entry('independence', subject, forward, [batchIndependence], d.capabilities.batchDependent ? 'fail' : 'pass'),
      entry('registry', subject, declared, [declaredStats]),
      entry('transition', `${d.name} train step (registered)`, step, transitionLaws),
    ]
  })

/** polyak's schedules, each with the claims its doc states (0-based steps, clamped after the horizon). */
export const polyakSchedules: ReadonlyArray<{ readonly name: string; readonly subject: ScheduleSubject }> = [
  {
    name: 'cosineToOne(0.99, 100) (BYOL τ)',
    subject: {
      at: cosineToOne(0.99, 100),
      firstStep: 0,
      start: 0.99,
      horizon: 100,
      end: 1,
      clamps: true,
      monotone: 'increasing',
      closedForm: (k) => 1 - (0.01 * (Math.cos((Math.PI * Math.min(k, 100)) / 100) + 1)) / 2,
    },
  },
  {
    name: 'momentumBnAlpha(50) (Momentum² BN blend)',
    subject: {
      at: momentumBnAlpha(50),
      firstStep: 0,
      start: 1,
      horizon: 50,
      end: 0,
      clamps: true,
      monotone: 'decreasing',
      closedForm: (k) => (Math.cos((Math.PI * Math.min(k, 50)) / 50) + 1) / 2,
    },
  },
  {
    name: 'warmup() (timm EMA warm-up)',
    subject: { at: warmup(), firstStep: 0, start: 0, monotone: 'increasing', closedForm: (k) => Math.min(0.9999, Math.max(0, 1 - (1 + k) ** (-2 / 3))) },
  },
  { name: 'constant(0.999)', subject: { at: constant(0.999), firstStep: 0, start: 0.999, monotone: 'constant', closedForm: () => 0.999 } },
]

/** polyak's models under the whole-model laws: small enough for the catalogue, every kind of layer (residual projections, pooling, heads). */
export const polyakModels: ReadonlyArray<{ readonly name: string; readonly subject: ModelSubject; readonly trainIndependent: boolean }> = [
  {
    name: 'CIFAR ResNet-8 (width 4, BatchNorm, classifier + projector)',
    subject: { model: resnet({ inputShape: [8, 8, 3], depth: 8, width: 4, norm: 'batchNorm', classes: 3, projector: { hidden: 6, out: 3 } }) },
    trainIndependent: false,
  },
  {
    name: "CIFAR ResNet-8 EMAN teacher (withNorm('eman'))",
    subject: { model: resnet({ inputShape: [8, 8, 3], depth: 8, width: 4, norm: 'batchNorm', classes: 3, projector: { hidden: 6, out: 3 } }).withNorm('eman') },
    trainIndependent: true,
  },
  {
    name: 'convNet (GroupNorm + WeightAlign, classifier)',
    subject: {
      model: convNet({ inputShape: [6, 6, 2], widths: [4, 4], norm: { name: 'groupNorm', config: { groups: 2 } }, weightNorm: 'weightAlign', classes: 3 }),
    },
    trainIndependent: true,
  },
]

/** One entry of the catalogue: a law on a subject, and whether it must pass or fail. */
export interface CatalogueEntry {
  readonly suite: string
  readonly subject: string
  readonly expect: 'pass' | 'fail'
  /** The subject computes on TensorFlow.js (a `Model`, a tfjs-layers teacher): it runs on tfjs backends only, not on `referenceOps`. */
  readonly tfjsOnly?: boolean
  readonly run: (ops: Ops<Leaf>, options: RunOptions) => Promise<LawResult[]>
}

/** Whether a catalogue entry applies to the interpreter `ops` (a tfjs-only subject does not apply to `referenceOps`). */
export const appliesTo = (e: CatalogueEntry, ops: Ops<Leaf>): boolean => e.tfjsOnly !== true || ops.name.startsWith('tfjs:')

const entry = <S>(suite: string, subject: string, value: S, laws: ReadonlyArray<SomeLaw<S>>, expect: 'pass' | 'fail' = 'pass'): CatalogueEntry => ({
  suite,
  subject,
  expect,
  run: (ops, options) => runLaws(subject, value, laws, ops, options),
})

/** The catalogue's hand-written entries: polyak's subjects with the conventions they claim (the registry's generic claims are `registryEntries`). */
export const catalogue: readonly CatalogueEntry[] = [
  entry('ema', 'emaLeaf', polyakEmaStep, emaStepLaws),
  entry('ema', 'ema (zero-init, debiased)', polyakDebiasedEma, [emaDebias]),
  entry('teacher', 'teacherUpdate', polyakTeacherUpdate, teacherLaws),
  entry('batchNorm', 'batchNorm (PyTorch defaults)', polyakBatchNorm, batchNormLaws),
  ...polyakGroupNorms.map((s) => entry('groupNorm', s.name, s.subject, groupNormLaws)),
  ...batchForwardSubjects.map((s) => entry('independence', s.name, s.subject, [batchIndependence], s.expect)),
  entry('momentumBn', 'momentumBatchNorm (default: unbiased, unbiased)', polyakMomentumBn, momentumBnLaws),
  entry('momentumBn', 'momentumBatchNorm (plain BN: biased, unbiased)', polyakMomentumBnPlain, momentumBnLaws),
  entry('momentumBn', 'momentumBatchNorm (reference: unbiased twice)', polyakMomentumBnReference, momentumBnLaws),
  entry('weightAlign', 'weightAlign (G = √2)', polyakWeightAlign, weightAlignLaws),
  ...polyakWeightStandardizations.map((s) => entry('weightStandardization', s.name, s.subject, weightStandardizationLaws)),
  ...polyakTeacherPresets.map((s) => entry('teacher', s.name, s.subject, teacherPresetLaws)),
  ...transitionSubjects.map((s) => entry('transition', s.name, s.subject, transitionLaws)),
  entry('shapes', 'shapeOps (shape-only interpreter)', shapeOps, [shapesAgree]),
  ...polyakSchedules.map((s) => entry('schedule', s.name, s.subject, scheduleLaws)),
  ...polyakModels.flatMap((m) => [
    { ...entry('model', m.name, m.subject, modelLaws), tfjsOnly: true },
    { ...entry('model', m.name, m.subject, [modelBatchIndependence('train')], m.trainIndependent ? 'pass' : 'fail'), tfjsOnly: true },
  ]),
  entry('backend', 'the active backend', null, []),
]

const describe = (c: Record<string, unknown>): string =>
  Object.entries(c)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k} ${typeof v === 'number' ? Number(v.toPrecision(3)) : String(v)}`)
    .join(', ')

/**
 * Catalogue entries for configs drawn from the normalizers' own io-ts codecs (`configArb`): each
 * subject is the constructor with that config, claiming the conventions the config asks for.
 */
export const drawnConfigEntries = (seed: number, count: number): CatalogueEntry[] => {
  if (count <= 0) return []
  const draw = <C>(arb: fc.Arbitrary<C>, salt: number): C[] => fc.sample(arb, { numRuns: count, seed: seed * 7919 + salt })
  const bn = draw(configArb(batchNormFields), 1).map((c) =>
    entry(
      'batchNorm',
      `batchNorm (${describe(c)})`,
      { make: (ops) => unsafeBatchNorm(ops, c), decay: c.decay, epsilon: c.epsilon, runningVariance: c.runningVariance } as BatchNormSubject,
      batchNormLaws,
    ),
  )
  const wa = draw(configArb(weightAlignFields), 2).map((c) =>
    entry(
      'weightAlign',
      `weightAlign (${describe({ gain: c.gain, epsilon: c.epsilon })})`,
      { make: (ops, layout) => unsafeWeightAlign(ops, { gain: c.gain, epsilon: c.epsilon, layout }), gain: c.gain, epsilon: c.epsilon } as WeightAlignSubject,
      weightAlignLaws,
    ),
  )
  const { totalSteps: _, ...mbnFields } = momentumBatchNormFields
  const mbn = draw(configArb(mbnFields), 3).map((drawn) => {
    // referenceDoubleBessel is shorthand for both corrections: the codec's cross-field rule refuses both at once
    const c = drawn.referenceDoubleBessel
      ? { epsilon: drawn.epsilon, referenceDoubleBessel: true }
      : { epsilon: drawn.epsilon, normalizeVariance: drawn.normalizeVariance, storedVariance: drawn.storedVariance }
    const claim = (v: VarianceCorrection | undefined): VarianceCorrection => (drawn.referenceDoubleBessel ? 'unbiasedTwice' : (v ?? 'unbiased'))
    const subject: MomentumBnSubject = {
      make: (ops, totalSteps) => unsafeMomentumBatchNorm(ops, { totalSteps, ...c } as never),
      normalizeVariance: claim(drawn.normalizeVariance),
      storedVariance: claim(drawn.storedVariance),
      epsilon: drawn.epsilon,
    }
    return entry('momentumBn', `momentumBatchNorm (${describe(c)})`, subject, momentumBnLaws)
  })
  const gn = draw(configArb(groupNormFields), 4).map((drawn) => {
    // the law draws up to 8 channels: keep the group count or size small enough to divide some of them
    const c =
      drawn.groupSize !== undefined && drawn.groups === undefined
        ? { groupSize: 1 + (drawn.groupSize % 4), epsilon: drawn.epsilon }
        : { groups: 1 + ((drawn.groups ?? 2) % 4), epsilon: drawn.epsilon }
    const subject: GroupNormSubject = {
      make: (ops) => unsafeGroupNorm(ops, c) as never,
      groups: (channels) => ('groups' in c ? c.groups : channels / c.groupSize),
      epsilon: c.epsilon,
    }
    return entry('groupNorm', `groupNorm (${describe(c)})`, subject, groupNormLaws)
  })
  return [...bn, ...gn, ...mbn, ...wa]
}

/** A catalogue result: the law's result and whether it came out as expected. */
export interface CatalogueResult extends LawResult {
  readonly suite: string
  readonly expect: 'pass' | 'fail'
  /** True when the law passed and was expected to, or failed and was expected to. */
  readonly ok: boolean
}

/** Controls of a catalogue run: `signal` stops it between suites (the results so far are returned); `yieldToHost` is awaited between suites so a page can repaint. */
export interface CatalogueControl {
  readonly signal?: AbortSignal
  readonly yieldToHost?: () => Promise<void>
}

/** Runs catalogue `entries` on `ops`, reporting each law × subject. */
export const runEntries = async (
  ops: Ops<Leaf>,
  entries: readonly CatalogueEntry[],
  options: RunOptions = {},
  onResult?: (r: CatalogueResult) => void,
  control: CatalogueControl = {},
): Promise<CatalogueResult[]> => {
  const out: CatalogueResult[] = []
  for (const e of entries.filter((x) => appliesTo(x, ops))) {
    await control.yieldToHost?.()
    if (control.signal?.aborted === true) break
    const results =
      e.suite === 'backend' ? await runLaws(`backend ${ops.name}`, ops, [backendConformance, axpbyDonation], ops, options) : await e.run(ops, options)
    for (const r of results) {
      const c = { ...r, suite: e.suite, expect: e.expect, ok: r.passed === (e.expect === 'pass') }
      out.push(c)
      onResult?.(c)
    }
  }
  return out
}

/** Runs the whole catalogue on `ops` (the registry's claims, backend conformance and configs drawn from the codecs included), reporting each law × subject. */
export const runCatalogue = (
  ops: Ops<Leaf>,
  options: RunOptions = {},
  onResult?: (r: CatalogueResult) => void,
  control: CatalogueControl = {},
): Promise<CatalogueResult[]> =>
  runEntries(
    ops,
    [...catalogue, ...registryEntries(), ...drawnConfigEntries(options.configSeed ?? 0, options.configsPerNormalizer ?? 2)],
    options,
    onResult,
    control,
  )

const isFn = (x: unknown): boolean => typeof x === 'function'
const isObject = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object'
const hasFns = (x: unknown, ...keys: string[]): boolean => isObject(x) && keys.every((k) => isFn(x[k]))
const hasNums = (x: unknown, ...keys: string[]): boolean => isObject(x) && keys.every((k) => typeof x[k] === 'number')

/** One export `subjectEntries` recognises: the suite it runs, the shape it must have (in words, and as a check), and its laws. */
export interface SubjectExport {
  readonly suite: string
  readonly shape: string
  readonly accepts: (x: unknown) => boolean
  readonly laws: ReadonlyArray<SomeLaw<never>>
  /** The subject computes on TensorFlow.js: it runs on tfjs backends only. */
  readonly tfjsOnly?: boolean
}

const subjectExport = <S>(
  suite: string,
  shape: string,
  accepts: (x: unknown) => boolean,
  laws: ReadonlyArray<SomeLaw<S>>,
  tfjsOnly = false,
): SubjectExport => ({
  suite,
  shape,
  accepts,
  // the table forgets each export's subject type; accepts() has checked the shape before the laws run
  laws: laws as ReadonlyArray<SomeLaw<never>>,
  ...(tfjsOnly ? { tfjsOnly } : {}),
})

/** The exports `subjectEntries` recognises in a user's module: one row each, with its suite, shape, check and laws. */
export const SUBJECT_EXPORTS: Readonly<Record<string, SubjectExport>> = {
  emaStep: subjectExport('ema', '(ops, avg, x, decay) => avg′ (EmaStep)', isFn, emaStepLaws),
  ema: subjectExport('ema', '{ make(ops, decay) } returning a debiased Ema (EmaTransformSubject)', (x) => hasFns(x, 'make'), [emaDebias]),
  teacherUpdate: subjectExport('teacher', '(ops, student, teacher, decay, policy) => teacher′ (TeacherUpdateSubject)', isFn, teacherLaws),
  teacherPresets: subjectExport(
    'teacher',
    '{ presets, update(ops, student, teacher, decay, preset) } (TeacherPresetSubject)',
    (x) => hasFns(x, 'update') && isObject(x) && Array.isArray(x.presets),
    teacherPresetLaws,
  ),
  batchNorm: subjectExport(
    'batchNorm',
    '{ make(ops), decay, epsilon, runningVariance } (BatchNormSubject)',
    (x) => hasFns(x, 'make') && hasNums(x, 'decay', 'epsilon'),
    batchNormLaws,
  ),
  groupNorm: subjectExport(
    'groupNorm',
    '{ make(ops), groups(channels), epsilon } (GroupNormSubject)',
    (x) => hasFns(x, 'make', 'groups') && hasNums(x, 'epsilon'),
    groupNormLaws,
  ),
  batchForward: subjectExport('independence', '{ forward(ops, x), channels } (BatchForwardSubject)', (x) => hasFns(x, 'forward') && hasNums(x, 'channels'), [
    batchIndependence,
  ]),
  momentumBatchNorm: subjectExport(
    'momentumBn',
    '{ make(ops, totalSteps), normalizeVariance?, storedVariance? } (MomentumBnSubject)',
    (x) => hasFns(x, 'make'),
    momentumBnLaws,
  ),
  weightAlign: subjectExport(
    'weightAlign',
    '{ make(ops, layout), gain, epsilon } (WeightAlignSubject)',
    (x) => hasFns(x, 'make') && hasNums(x, 'gain', 'epsilon'),
    weightAlignLaws,
  ),
  weightStandardization: subjectExport(
    'weightStandardization',
    '{ make(ops, layout), estimator, epsilon, epsilonPlacement } (WeightStandardizationSubject)',
    (x) => hasFns(x, 'make') && hasNums(x, 'epsilon'),
    weightStandardizationLaws,
  ),
  transition: subjectExport('transition', '{ make(ops) } returning { init, step, inputShape } (TransitionSubject)', (x) => hasFns(x, 'make'), transitionLaws),
  schedule: subjectExport(
    'schedule',
    '{ at(k), firstStep, start, horizon?, end?, clamps?, monotone, closedForm? } (ScheduleSubject)',
    (x) => hasFns(x, 'at') && hasNums(x, 'start', 'firstStep'),
    scheduleLaws,
  ),
  model: subjectExport(
    'model',
    '{ model } with a Model from network/resnet/convNet (ModelSubject)',
    (x) => isObject(x) && hasFns(x.model, 'init', 'forward', 'on', 'layers'),
    modelLaws,
    true,
  ),
  layersTeacher: subjectExport(
    'layers',
    '{ student, teacher, update(decay, policy) } over tfjs-layers models (LayersTeacherSubject)',
    (x) => hasFns(x, 'update') && isObject(x) && 'student' in x && 'teacher' in x,
    layersTeacherLaws,
    true,
  ),
}

/** A module of subjects that cannot be checked: what was wrong and which shapes are accepted. */
export class SubjectModuleError extends Error {
  override readonly name = 'SubjectModuleError'
}

/**
 * The catalogue entries for a user's module: each recognised export (`SUBJECT_EXPORTS`, as named
 * exports or as keys of the default export) runs its suite. A module with none, or with an export
 * of the wrong shape, gets a `SubjectModuleError` that lists the accepted shapes.
 */
export const subjectEntries = (mod: Record<string, unknown>, name = 'your module'): CatalogueEntry[] => {
  const source: Record<string, unknown> = {
    ...(mod.default !== null && typeof mod.default === 'object' ? (mod.default as Record<string, unknown>) : {}),
    ...mod,
  }
  const accepted = Object.entries(SUBJECT_EXPORTS)
    .map(([k, v]) => `  ${k}: ${v.shape}`)
    .join('\n')
  const out: CatalogueEntry[] = []
  for (const [key, row] of Object.entries(SUBJECT_EXPORTS)) {
    const value = source[key]
    if (value === undefined) continue
    if (!row.accepts(value)) throw new SubjectModuleError(`${name}: the export '${key}' is not ${row.shape}\naccepted exports:\n${accepted}`)
    const made = entry(row.suite, `${key} (${name})`, value as never, row.laws)
    out.push(row.tfjsOnly === true ? { ...made, tfjsOnly: true } : made)
  }
  if (out.length === 0) {
    const found = Object.keys(source).filter((k) => k !== 'default')
    throw new SubjectModuleError(
      `${name} exports no subject polyak can check${found.length === 0 ? '' : ` (found: ${found.slice(0, 10).join(', ')})`}\naccepted exports (named, or keys of the default export):\n${accepted}`,
    )
  }
  return out
}
