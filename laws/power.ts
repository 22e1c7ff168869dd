/**
 * The power of the laws: for each law with a tolerance, the smallest planted error it detects with
 * at least 99 % probability at a given number of runs. An error of size δ is planted in polyak's
 * own subject (a relative error `y·(1 + δ)` in what the subject computes, or for batch
 * independence a cross-sample leak `y + δ·mean_batch(x)`), the law is run with `trials` seeds, and
 * the detection rate is the fraction of runs that fail. δ walks a grid of 1 and 3 per decade,
 * from 10⁻⁷ (below that, float32 cannot hold `1 + δ`) to 10⁻¹.
 *
 * @module laws/power
 */
import * as tf from '@tensorflow/tfjs-core'
import type { Ops } from '../src/core/ops.js'
import type { Leaf } from '../src/core/tree.js'
import { isTensorLike } from '../src/core/memory.js'
import { mapAny } from '../src/core/tree.js'
import type { Normalizer } from '../src/norm/normalizer.js'
import { unsafeLayerNorm } from '../src/norm/groupNorm.js'
import type { EmaStep } from './ema.js'
import { type LawResult, type SomeLaw, runLaws } from './law.js'
import {
  type BatchForwardSubject,
  type BatchNormSubject,
  type GroupNormSubject,
  type MomentumBnSubject,
  type WeightAlignSubject,
  type WeightStandardizationSubject,
  weightStandardizationLaws,
  batchIndependence,
  batchNormLaws,
  groupNormLaws,
  momentumBnLaws,
  weightAlignLaws,
} from './normalizers.js'
import { emaStepLaws } from './ema.js'
import {
  polyakBatchNorm,
  polyakEmaStep,
  polyakGroupNorms,
  polyakModels,
  polyakMomentumBn,
  polyakSchedules,
  polyakTeacherPresets,
  polyakTeacherUpdate,
  polyakWeightAlign,
  polyakWeightStandardizations,
} from './subjects.js'
import { type TeacherPresetSubject, type TeacherUpdateSubject, teacherLaws, teacherPresetLaws } from './teacher.js'
import { type ScheduleSubject, scheduleLaws } from './schedules.js'
import { type ModelSubject, modelBatchIndependence, modelReference, modelTeacherPolicy } from './models.js'
import type { Model } from '../src/nn/model.js'

/** Laws that compare bitwise, check structure or compare a subject with itself: a planted scale error is not what they measure. */
export const EXACT_LAWS: ReadonlySet<string> = new Set([
  'ema.identity',
  'ema.copy',
  'ema.inputsUntouched',
  'teacher.integersCopied',
  'teacher.rejectsMismatch',
  'teacher.inputsUntouched',
  'batchNorm.evalKeepsStats',
  'batchNorm.inputsUntouched',
  'momentumBn.initialStatsIrrelevant',
  'weightAlign.constantFilter',
  'weightAlign.scaleInvariance',
  'weightAlign.layout',
  'batchNorm.permutation',
  'batchNorm.affineInvariance',
  // structure: a uniform scale error keeps a schedule's direction, a model's shapes, its gradient flow and its memory
  'schedule.monotone',
  'model.shapes',
  'model.paramsReachOutput',
  'model.noLeak',
])

/** The grid of planted errors: 1 and 3 per decade from 10⁻⁷ to 10⁻¹. */
export const POWER_DELTAS: readonly number[] = [1e-7, 3e-7, 1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]

/** The power of one law. */
export interface PowerResult {
  readonly law: string
  readonly subject: string
  /** The error planted, in words. */
  readonly bugClass: string
  /** The smallest δ on the grid detected in at least `target` of the trials (and every larger δ), or `undefined` when none up to 0.1 is. */
  readonly smallest?: number
  /** Detection rate per δ tried (δ, failed runs / trials). */
  readonly rates: ReadonlyArray<readonly [number, number]>
  readonly trials: number
  readonly numRuns: number
}

/** Options of `lawPower`. */
export interface PowerOptions {
  /** Seeds per δ (default 100). */
  readonly trials?: number
  /** Inputs per law run (default 50, the runners' default). */
  readonly numRuns?: number
  /** Detection probability required (default 0.99). */
  readonly target?: number
  /** Only the laws whose name matches. */
  readonly only?: (name: string) => boolean
  /** First seed (default 1); trial t uses seed `seed + t`. */
  readonly seed?: number
  /** Called after each law. */
  readonly onResult?: (r: PowerResult) => void
}

const scaled = <T extends Leaf>(ops: Ops<T>, x: unknown, f: number): unknown =>
  mapAny(x, (leaf) => (isTensorLike(leaf) && (leaf as T).dtype === 'float32' ? ops.scale(leaf as T, f) : leaf))

const plantedNormalizer = <T extends Leaf, P, S>(ops: Ops<T>, inner: Normalizer<T, P, S>, f: number): Normalizer<T, P, S> => ({
  ...inner,
  apply: (x, mode, ctx) => (state) => {
    const [y, next] = inner.apply(x, mode, ctx)(state)
    return [ops.scale(y, f), { params: next.params, stats: scaled(ops, next.stats, f) as S }]
  },
})

interface Target<S> {
  readonly subject: string
  readonly bugClass: string
  readonly laws: ReadonlyArray<SomeLaw<S>>
  readonly plant: (delta: number) => S
}

const relative = 'result scaled by (1 + δ)'

/** A model whose forward pass plants `f` on every output of the batch: `(y, batch) => y′`. */
const plantedModel = (model: Model, f: (y: tf.Tensor2D) => tf.Tensor2D): Model => ({
  ...model,
  forward: (p, s, x, mode, ctx) => {
    const { features, logits, projection, prediction, stats } = model.forward(p, s, x, mode, ctx)
    return {
      features: f(features),
      stats,
      ...(logits === undefined ? {} : { logits: f(logits) }),
      ...(projection === undefined ? {} : { projection: f(projection) }),
      ...(prediction === undefined ? {} : { prediction: f(prediction) }),
    }
  },
})

const targets = (): Array<Target<unknown>> => {
  // each target's laws, subject and plant share one S; the list forgets it, as runLaws does (SomeLaw)
  const t = <S>(x: Target<S>): Target<unknown> => x as unknown as Target<unknown>
  const groupNorm2 = polyakGroupNorms[0]!
  const layerNormForward: BatchForwardSubject = {
    channels: 4,
    forward: (ops, x) => {
      const n = unsafeLayerNorm(ops)
      return n.apply(x, 'train')(n.init(4))[0]
    },
  }
  return [
    t<EmaStep>({
      subject: 'emaLeaf',
      bugClass: relative,
      laws: emaStepLaws,
      plant: (d) => (ops, avg, x, decay) => ops.scale(polyakEmaStep(ops, avg, x, decay), 1 + d),
    }),
    t<TeacherUpdateSubject>({
      subject: 'teacherUpdate',
      bugClass: 'every float leaf of the new teacher scaled by (1 + δ)',
      laws: teacherLaws,
      plant: (d) => (ops, s, te, decay, policy) => scaled(ops, polyakTeacherUpdate(ops, s, te, decay, policy), 1 + d) as never,
    }),
    t<BatchNormSubject>({
      subject: 'batchNorm',
      bugClass: 'output and running statistics scaled by (1 + δ)',
      laws: batchNormLaws,
      plant: (d) => ({ ...polyakBatchNorm, make: (ops) => plantedNormalizer(ops, polyakBatchNorm.make(ops), 1 + d) }),
    }),
    t<GroupNormSubject>({
      subject: groupNorm2.name,
      bugClass: 'output scaled by (1 + δ)',
      laws: groupNormLaws,
      plant: (d) => ({ ...groupNorm2.subject, make: (ops) => plantedNormalizer(ops, groupNorm2.subject.make(ops), 1 + d) }),
    }),
    t<MomentumBnSubject>({
      subject: 'momentumBatchNorm',
      bugClass: 'output and running statistics scaled by (1 + δ)',
      laws: momentumBnLaws,
      plant: (d) => ({ ...polyakMomentumBn, make: (ops, k) => plantedNormalizer(ops, polyakMomentumBn.make(ops, k), 1 + d) }),
    }),
    t<WeightAlignSubject>({
      subject: 'weightAlign',
      bugClass: 'aligned weight scaled by (1 + δ)',
      laws: weightAlignLaws,
      plant: (d) => ({
        ...polyakWeightAlign,
        make: (ops, layout) => {
          const inner = polyakWeightAlign.make(ops, layout)
          return { ...inner, transform: (p) => ops.scale(inner.transform(p), 1 + d) }
        },
      }),
    }),
    t<WeightStandardizationSubject>({
      subject: polyakWeightStandardizations[0]!.name,
      bugClass: 'standardised weight scaled by (1 + δ)',
      laws: weightStandardizationLaws,
      plant: (d) => ({
        ...polyakWeightStandardizations[0]!.subject,
        make: (ops, layout) => {
          const inner = polyakWeightStandardizations[0]!.subject.make(ops, layout)
          return { ...inner, transform: (p) => ops.scale(inner.transform(p), 1 + d) }
        },
      }),
    }),
    t<TeacherPresetSubject>({
      subject: polyakTeacherPresets[0]!.name,
      bugClass: 'every float leaf of the new teacher scaled by (1 + δ)',
      laws: teacherPresetLaws,
      plant: (d) => ({
        ...polyakTeacherPresets[0]!.subject,
        update: (ops, s, te, decay, preset) => scaled(ops, polyakTeacherPresets[0]!.subject.update(ops, s, te, decay, preset), 1 + d) as never,
      }),
    }),
    t<ScheduleSubject>({
      subject: polyakSchedules[0]!.name,
      bugClass: 'value scaled by (1 + δ)',
      laws: scheduleLaws,
      plant: (d) => ({ ...polyakSchedules[0]!.subject, at: (k) => polyakSchedules[0]!.subject.at(k) * (1 + d) }),
    }),
    t<ModelSubject>({
      subject: polyakModels[0]!.name,
      bugClass: 'every output scaled by (1 + δ) (reference); a leak y + δ·mean_batch(y) (independence)',
      laws: [modelReference],
      plant: (d) => ({ model: plantedModel(polyakModels[0]!.subject.model, (y) => tf.mul(y, 1 + d)) }),
    }),
    t<ModelSubject>({
      subject: polyakModels[0]!.name,
      bugClass: 'a leak y + δ·mean_batch(y) in every output',
      laws: [modelBatchIndependence('eval')],
      plant: (d) => ({ model: plantedModel(polyakModels[0]!.subject.model, (y) => tf.add(y, tf.mul(tf.mean(y, 0, true), d))) }),
    }),
    t<ModelSubject>({
      subject: `${polyakModels[0]!.name}, teacherUpdate`,
      bugClass: 'every float leaf of the new teacher scaled by (1 + δ)',
      laws: [modelTeacherPolicy],
      plant: (d) => ({
        model: polyakModels[0]!.subject.model,
        teacherUpdate: (ops, s, te, decay, policy) => scaled(ops, polyakTeacherUpdate(ops, s, te, decay, policy), 1 + d) as never,
      }),
    }),
    t<BatchForwardSubject>({
      subject: 'layerNorm (batch forward)',
      bugClass: 'cross-sample leak: y + δ·mean over the batch of x',
      laws: [batchIndependence],
      plant: (d) => ({ ...layerNormForward, forward: (ops, x) => ops.add(layerNormForward.forward(ops, x), ops.scale(ops.mean(x, [0], true), d)) }),
    }),
  ]
}

/**
 * Measures, on `ops`, the smallest planted error each law with a tolerance detects with at least
 * `target` probability (`trials` seeds per δ, `numRuns` inputs per run). δ descends the grid from
 * 0.1 and stops at the first δ detected in fewer than `target` of the trials.
 */
export const lawPower = async (ops: Ops<Leaf>, options: PowerOptions = {}): Promise<PowerResult[]> => {
  const trials = options.trials ?? 100
  const numRuns = options.numRuns ?? 50
  const target = options.target ?? 0.99
  const seed0 = options.seed ?? 1
  const out: PowerResult[] = []
  for (const tg of targets()) {
    for (const law of tg.laws) {
      if (EXACT_LAWS.has(law.name) || (options.only !== undefined && !options.only(law.name))) continue
      const rates: Array<readonly [number, number]> = []
      let smallest: number | undefined
      for (const delta of [...POWER_DELTAS].reverse()) {
        const planted = tg.plant(delta)
        let failed = 0
        const allowedMisses = Math.floor(trials * (1 - target))
        let t = 0
        for (; t < trials; t++) {
          const [r] = (await runLaws(tg.subject, planted, [law], ops, { numRuns, seed: seed0 + t, endOnFailure: true })) as [LawResult]
          if (!r.passed) failed += 1
          if (t + 1 - failed > allowedMisses) {
            t += 1
            break
          }
        }
        rates.push([delta, failed / t])
        if (failed / t < target || t < trials) break
        smallest = delta
      }
      const r: PowerResult = {
        law: law.name,
        subject: tg.subject,
        bugClass: tg.bugClass,
        ...(smallest === undefined ? {} : { smallest }),
        rates,
        trials,
        numRuns,
      }
      out.push(r)
      options.onResult?.(r)
    }
  }
  return out
}
