/**
 * Semi-supervised training with a teacher: FixMatch-style pseudo-labelling and mean-teacher
 * consistency, with the teacher being (a) BatchNorm in train mode (weights EMA, its own batch
 * statistics), (b) EMAN (weights and BN statistics EMA, eval-mode BN), or (c) none (the student
 * labels for itself).
 *
 * One step (FixMatch-EMAN order, docs/methods.md): pseudo-labels from the teacher on the weakly
 * augmented unlabelled batch; one student forward over `[labelled; strongly augmented unlabelled]`;
 * loss `CE(labelled) + λ·(masked CE | consistency)`; optimizer step; then the teacher update.
 *
 * The model is any backbone (`config.model`: a convNet, a ResNet, or a `Module` of the user's) with
 * a classifier head; the teacher is the same backbone with EMAN in place of BatchNorm
 * (`model.withNorm('eman')`) for the `eman` teacher of a BatchNorm student, and the same model
 * otherwise. `semiSupervisedStep` is one step, for a loop of the user's; `runSemiSupervised` is the
 * loop polyak runs (data streams, evaluation, checkpoints, resumption).
 *
 * @module train/semiSupervised
 */
import * as tf from '@tensorflow/tfjs-core'
import { NonFiniteError } from '../core/errors.js'
import { cloneTree } from '../core/memory.js'
import { tfOps } from '../core/tfOps.js'
import { type TeacherPolicy, emanPolicy, unsafeTeacherUpdate, weightsOnly } from '../ema/teacher.js'
import { warmup } from '../ema/schedules.js'
import { WEAK, batchStream, labelledSplit, makeBatch, strong } from '../data/augment.js'
import type { ImageSet } from '../data/images.js'
import type { Model } from '../nn/model.js'
import { derive } from '../nn/random.js'
import { type ModelSpec, buildModel, modelIdentity } from '../nn/spec.js'
import { specName } from '../norm/registry.js'
import { type Optimizer, sgd, warmupCosine } from '../optim/optimizers.js'
import type { TeacherUpdate } from '../ema/teacher.js'
import { type CheckpointIdentity, type CheckpointStore, loadCheckpoint, saveCheckpoint } from './checkpoint.js'
import { type GuardControl, nonFiniteGuard } from './guard.js'
import { type Metrics, type ModelPass, type TrainState, disposeAll, readMetrics, toImages, valueAndGrads } from './common.js'
import { accuracy } from './evaluation.js'
import { crossEntropy, maskedCrossEntropy } from './losses.js'

/** The teacher of a semi-supervised run. */
export type SemiTeacher = 'none' | 'bn' | 'eman'

/** Configuration of a semi-supervised run. */
export interface SemiSupervisedConfig {
  readonly method: 'fixmatch' | 'meanTeacher'
  readonly teacher: SemiTeacher
  /** Fraction of the training images that keep their labels (class-balanced). */
  readonly labelledFraction: number
  /** Labels kept per class, in place of `labelledFraction` when given (FixMatch's protocol: 4 or 25 per class). */
  readonly labelsPerClass?: number | undefined
  readonly steps: number
  readonly batchLabelled: number
  readonly batchUnlabelled: number
  /** FixMatch confidence threshold (EMAN's FixMatch: 0.7; FixMatch paper: 0.95). */
  readonly threshold: number
  /** Weight of the unlabelled loss (FixMatch λ_u; EMAN uses 10 with 0.7). */
  readonly lambdaU: number
  readonly lr: number
  readonly weightDecay: number
  /** Teacher decay (weight on the old teacher value). */
  readonly emaDecay: number
  /**
   * Ramp the teacher's decay up as Mean Teacher does, `d_k = min(emaDecay, 1 − 1/(k + 1))`, so that
   * early on the teacher is the mean of the students so far rather than mostly the initial weights
   * (default false: `d_k = emaDecay`). With a decay of 0.999 and a run of a few thousand steps, a
   * constant decay leaves `0.999^k` of the random initialisation in the teacher.
   */
  readonly emaWarmup?: boolean
  /** Channels of the default convNet's stages (when `model` is absent). */
  readonly widths: readonly number[]
  /** The backbone (default: `{ kind: 'convNet', widths }`); its normalizer defaults to BatchNorm. */
  readonly model?: ModelSpec
  readonly seed: number
  /** Evaluate every this many steps (0: only at the end). */
  readonly evalEvery: number
  /** Test images used for evaluation. */
  readonly evalLimit: number
}

/** Sensible small-scale defaults (MNIST 14×14, 1% labels). */
export const SEMI_DEFAULTS: SemiSupervisedConfig = {
  method: 'fixmatch',
  teacher: 'eman',
  labelledFraction: 0.01,
  steps: 300,
  batchLabelled: 32,
  batchUnlabelled: 96,
  threshold: 0.7,
  lambdaU: 1,
  lr: 0.05,
  weightDecay: 5e-4,
  emaDecay: 0.99,
  emaWarmup: false,
  widths: [16, 32],
  seed: 0,
  evalEvery: 50,
  evalLimit: 2000,
}

/** One evaluation point. */
export interface EvalPoint {
  readonly step: number
  readonly student: number
  readonly teacher?: number
}

/** What a run returns. */
export interface SemiSupervisedResult {
  readonly config: SemiSupervisedConfig
  readonly curve: readonly EvalPoint[]
  readonly final: EvalPoint
  readonly seconds: number
}

const policyOf = (t: SemiTeacher): TeacherPolicy => (t === 'eman' ? emanPolicy : weightsOnly)

/**
 * Runs a semi-supervised experiment on `train`/`test`. The driver owns every state: the previous
 * one is disposed as soon as the next exists, so memory stays flat over any number of steps.
 */
/** Controls of a run: checkpointing, resuming, stopping early. */
export interface RunControl extends GuardControl {
  /** Resume from this checkpoint (same config required); the data streams are replayed up to its step. */
  readonly resumeFrom?: CheckpointStore
  /** Write a checkpoint to `store` every `every` steps and at the end (`checkpointFile(path)` in Node). */
  readonly checkpoint?: { readonly store: CheckpointStore; readonly every: number }
  /** Checked before every step: when it is aborted, the run stops after the step in progress and returns what it has. */
  readonly signal?: AbortSignal
  /** Awaited before every step; a page passes `() => new Promise((r) => setTimeout(r))` so that it can repaint and handle input. */
  readonly yieldToHost?: () => Promise<void>
  /** Stop after this many steps (the schedules still follow `config.steps`): an interruption. */
  readonly stopAfter?: number
}

/** The model spec of a run: `config.model`, or the convNet of `config.widths`. */
export const modelSpecOf = (config: { readonly model?: ModelSpec; readonly widths: readonly number[] }): ModelSpec =>
  config.model ?? { kind: 'convNet', widths: config.widths }

/** The teacher's model for a `teacher` kind: EMAN in place of a BatchNorm student's normalizer, else the student's model. */
const teacherModelOf = (model: Model, teacher: SemiTeacher): Model =>
  teacher === 'eman' && specName(model.norm) === 'batchNorm' ? model.withNorm('eman') : model

/** The student and teacher models of a semi-supervised run, and the forward passes each step makes. */
export const semiSupervisedModels = (config: SemiSupervisedConfig, inputShape: readonly [number, number, number], classes = 10) => {
  const model = buildModel(modelSpecOf(config), { inputShape, classes, norm: 'batchNorm', totalSteps: config.steps })
  const teacherModel = teacherModelOf(model, config.teacher)
  const passes: ModelPass[] = [
    { role: 'student ([labelled; strong])', model, batch: config.batchLabelled + config.batchUnlabelled, mode: 'train' },
    {
      role: `labeller (${config.teacher === 'none' ? 'the student' : `${config.teacher} teacher`}, weak view)`,
      model: teacherModel,
      batch: config.batchUnlabelled,
      mode: labellerMode(config.teacher),
    },
    { role: 'evaluation', model: teacherModel, batch: Math.min(500, config.evalLimit), mode: 'eval' },
  ]
  return { model, teacherModel, passes }
}

/** The labeller's mode: EMAN normalises with its averaged statistics (eval); a BN teacher and the student use batch statistics. */
const labellerMode = (t: SemiTeacher): 'train' | 'eval' => (t === 'eman' ? 'eval' : 'train')

/** Everything a semi-supervised step needs besides the state and the batch: the config, the models, the optimizer and the teacher update. */
export interface SemiSupervisedSetup {
  readonly config: SemiSupervisedConfig
  readonly classes: number
  readonly model: Model
  readonly teacherModel: Model
  readonly optimizer: Optimizer
  readonly update: TeacherUpdate
}

/**
 * The setup of a run: the models for `inputShape` and `classes`, SGD with Nesterov momentum on a
 * warm-up-cosine schedule, and the donated teacher update of the config's teacher.
 */
export const semiSupervisedSetup = (config: SemiSupervisedConfig, inputShape: readonly [number, number, number], classes = 10): SemiSupervisedSetup => {
  const { model, teacherModel } = semiSupervisedModels(config, inputShape, classes)
  const optimizer = sgd({
    lr: warmupCosine({ base: config.lr, warmupSteps: Math.floor(config.steps / 20), totalSteps: config.steps }),
    momentum: 0.9,
    weightDecay: config.weightDecay,
    nesterov: true,
  })
  // the old teacher is disposed right after each update: donate it (in-place EMA where the backend can)
  const decay = config.emaWarmup === true ? warmup({ decay: config.emaDecay, power: 1 }) : config.emaDecay
  const update = unsafeTeacherUpdate(tfOps, { decay, policy: policyOf(config.teacher), donate: true })
  return { config, classes, model, teacherModel, optimizer, update }
}

/** The state at step 0: the student from `config.seed`, the teacher a copy of it (none for `teacher: 'none'`), fresh optimizer state. */
export const initSemiSupervised = (setup: SemiSupervisedSetup): TrainState => {
  const init = setup.model.init(setup.config.seed)
  return {
    student: init,
    ...(setup.config.teacher === 'none' ? {} : { teacher: { params: cloneTree(tfOps, init.params), stats: cloneTree(tfOps, init.stats) } }),
    opt: setup.optimizer.init(init.params),
    step: 0,
  }
}

/** One semi-supervised batch: labelled images and their labels, and the weak and strong views of the unlabelled images. */
export interface SemiBatch {
  readonly labelled: tf.Tensor4D
  readonly labels: tf.Tensor1D
  readonly weak: tf.Tensor4D
  readonly strong: tf.Tensor4D
}

/**
 * One step of FixMatch or mean teacher (`config.method`): pseudo-labels (or targets) from the
 * teacher on `weak`, the student loss over `[labelled; strong]` in one pass, the optimizer step, the
 * teacher update. Returns the next state (new tensors) and the scalar metrics `loss`, `lossX`,
 * `lossU`, `mask`. `state` and `batch` are borrowed: dispose them yourself. Runs in its own scope.
 *
 * @example
 * const setup = semiSupervisedSetup(config, [32, 32, 3])
 * let state = initSemiSupervised(setup)
 * for (let step = 0; step < config.steps; step++) {
 *   const { next, metrics } = semiSupervisedStep(setup, state, batchAt(step), step)
 *   disposeAll(state); state = next
 * }
 */
export const semiSupervisedStep = (
  setup: SemiSupervisedSetup,
  state: TrainState,
  batch: SemiBatch,
  step: number,
): { readonly next: TrainState; readonly metrics: Record<string, tf.Scalar> } =>
  tfOps.tidy(() => {
    const { config, model, teacherModel, optimizer, update } = setup
    const nl = batch.labelled.shape[0]
    const nu = batch.weak.shape[0]
    // 1. targets from the teacher (or the student) on the weak view, outside the gradient
    const labeller = state.teacher ?? state.student
    const labellerModel = state.teacher === undefined ? model : teacherModel
    const tOut = labellerModel.forward(labeller.params, labeller.stats, batch.weak, labellerMode(config.teacher), { heads: ['classifier'] })
    const probs = tf.softmax(tOut.logits!)
    const conf = tf.max(probs, 1)
    const pseudo = tf.argMax(probs, 1) as tf.Tensor1D
    const mask = tf.cast(tf.greaterEqual(conf, config.threshold), 'float32') as tf.Tensor1D
    // a BN teacher's own statistics move with its train-mode forward; EMAN's never do
    const teacherStats = config.teacher === 'bn' ? tOut.stats : undefined
    if (teacherStats === undefined) disposeAll(tOut.stats)

    // 2. student loss over [labelled; strong] in one BN pass
    const x = tf.concat([batch.labelled, batch.strong], 0)
    const g = valueAndGrads(state.student.params, (params) => {
      const out = model.forward(params, state.student.stats, x, 'train', { heads: ['classifier'], step })
      const logitsL = tf.slice(out.logits!, [0, 0], [nl, -1]) as tf.Tensor2D
      const logitsU = tf.slice(out.logits!, [nl, 0], [nu, -1]) as tf.Tensor2D
      const lx = crossEntropy(logitsL, batch.labels)
      const lu =
        config.method === 'fixmatch'
          ? maskedCrossEntropy(logitsU, pseudo, mask)
          : (tf.mean(tf.sum(tf.square(tf.sub(tf.softmax(logitsU), probs)), 1)) as tf.Scalar)
      return {
        loss: tf.add(lx, tf.mul(lu, config.lambdaU)) as tf.Scalar,
        stats: out.stats,
        metrics: { lossX: lx, lossU: lu, mask: tf.mean(mask) as tf.Scalar },
      }
    })
    // 3. optimizer step, then 4. the teacher update from the new student
    const [params, optState] = optimizer.update(g.grads, state.student.params, state.opt, step)
    const student = { params, stats: g.stats }
    let teacher = state.teacher
    if (teacher !== undefined) {
      const base = teacherStats === undefined ? teacher : { params: teacher.params, stats: teacherStats }
      teacher = update(student, step)(base)[1] as typeof teacher
    }
    const next: TrainState = { student, ...(teacher === undefined ? {} : { teacher }), opt: optState, step: step + 1 }
    return { next, metrics: { loss: g.loss, ...g.metrics } }
  })

export const runSemiSupervised = async (
  config: SemiSupervisedConfig,
  train: ImageSet,
  test: ImageSet,
  onProgress?: (step: number, metrics: Metrics, evalPoint?: EvalPoint) => void,
  control: RunControl = {},
): Promise<SemiSupervisedResult> => {
  const t0 = Date.now()
  const setup = semiSupervisedSetup(config, [train.height, train.width, train.channels], train.classes)
  const { model, teacherModel } = setup
  const split = labelledSplit(train.labels, config.labelledFraction, config.seed, train.classes, config.labelsPerClass)
  const nextL = batchStream(split.labelled, config.batchLabelled, config.seed, 'labelled')
  const nextU = batchStream(split.unlabelled, config.batchUnlabelled, config.seed, 'unlabelled')
  const augR = derive(config.seed, 'augment')
  let state: TrainState = initSemiSupervised(setup)
  const identity: CheckpointIdentity = {
    kind: 'semiSupervised',
    config: { ...config, model: modelIdentity(model) },
    backend: tf.getBackend(),
    data: { train: train.n, test: test.n, height: train.height, width: train.width, channels: train.channels, classes: train.classes },
    maxStep: config.steps,
  }
  const guard = nonFiniteGuard(control.onNonFinite, control.onWarning)
  if (control.resumeFrom !== undefined) {
    let loaded: TrainState
    try {
      loaded = await loadCheckpoint(control.resumeFrom, identity, state)
    } catch (e) {
      disposeAll(state)
      throw e
    }
    disposeAll(state)
    state = loaded
  }
  try {
    const startStep = state.step
    const lastStep = Math.min(config.steps, control.stopAfter ?? config.steps)
    const curve: EvalPoint[] = []
    const evaluate = async (s: TrainState): Promise<EvalPoint> => {
      const student = await accuracy(model, s.student.params, s.student.stats, test, config.evalLimit)
      const teacher = s.teacher === undefined ? undefined : await accuracy(teacherModel, s.teacher.params, s.teacher.stats, test, config.evalLimit)
      return teacher === undefined ? { step: s.step, student } : { step: s.step, student, teacher }
    }

    for (let step = 0; step < lastStep; step++) {
      if (step >= startStep) {
        await control.yieldToHost?.()
        if (control.signal?.aborted === true) break
      }
      const li = nextL()
      const ui = nextU()
      const ls = Array.from(li, (i) => train.labels[i]!)
      const xl = makeBatch(train, li, WEAK, augR)
      const uw = makeBatch(train, ui, WEAK, augR)
      const us = makeBatch(train, ui, strong(train.width), augR)
      if (step < startStep) continue // replaying the data streams of a resumed run

      const { next, metrics } = tfOps.tidy(() =>
        semiSupervisedStep(
          setup,
          state,
          {
            labelled: toImages(xl, li.length, train),
            labels: tf.tensor1d(ls, 'int32'),
            weak: toImages(uw, ui.length, train),
            strong: toImages(us, ui.length, train),
          },
          step,
        ),
      )
      disposeAll(state)
      state = next
      const m = await readMetrics(metrics)
      await guard.loss(step + 1, m.loss, state)
      let point: EvalPoint | undefined
      if ((config.evalEvery > 0 && (step + 1) % config.evalEvery === 0) || step + 1 === config.steps) {
        await guard.state(step + 1, state)
        point = await evaluate(state)
        curve.push(point)
      }
      onProgress?.(step + 1, m, point)
      if (control.checkpoint !== undefined && ((step + 1) % control.checkpoint.every === 0 || step + 1 === lastStep)) {
        // the encoder refuses a non-finite state (reading each tensor once), so the last good checkpoint stays
        try {
          await saveCheckpoint(control.checkpoint.store, identity, state)
        } catch (e) {
          if (!(e instanceof NonFiniteError)) throw e
          guard.report(e)
        }
      }
    }
    const last = curve[curve.length - 1]
    const final = last !== undefined && last.step === state.step ? last : await evaluate(state)
    return { config, curve, final, seconds: (Date.now() - t0) / 1000 }
  } finally {
    disposeAll(state)
  }
}
