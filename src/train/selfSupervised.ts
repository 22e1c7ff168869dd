/**
 * Self-supervised training with a momentum teacher, evaluated by a linear probe and k-NN on frozen
 * features:
 *
 * - **BYOL** (online: backbone → projector → predictor; target: backbone → projector), loss
 *   `2 − 2·cos(p, sg(z'))` symmetrised over the two views, with the target being
 *   (a) `bn`: weights EMA, train-mode BatchNorm on each view (its own batch statistics);
 *   (b) `eman`: weights and BN statistics EMA, eval-mode BN (EMAN);
 *   (c) `m2`: weights EMA, Momentum BatchNorm over the two views of the step (Momentum² Teacher).
 *   Teacher decay follows `cosineToOne(base, K)`.
 * - **SimCLR with momentum**, NT-Xent between online projections and momentum targets, with
 *   (d) `encoder`: a momentum copy of backbone + projector (a second backbone forward), or
 *   (e) `projector`: a momentum copy of the projector only, fed the online features under
 *   stop-gradient — one backbone pass (projector-only momentum, Pham et al. 2022).
 *
 * The backbone is any model spec (`config.model`: a convNet, a ResNet, or a `Module` of the
 * user's); the momentum model is the same backbone with the teacher's normalizer in place of a
 * BatchNorm student's (`model.withNorm`). `selfSupervisedStep` is one step for a loop of the user's;
 * `runSelfSupervised` is the loop with the frozen-feature evaluation.
 *
 * @module train/selfSupervised
 */
import * as tf from '@tensorflow/tfjs-core'
import { cloneTree } from '../core/memory.js'
import { tfOps } from '../core/tfOps.js'
import { type TreeRecord, underPrefix } from '../core/tree.js'
import { cosineToOne } from '../ema/schedules.js'
import { emanPolicy, projectorOnly, unsafeTeacherUpdate, weightsOnly } from '../ema/teacher.js'
import { batchStream, makeBatch, strong } from '../data/augment.js'
import type { ImageSet } from '../data/images.js'
import type { Model } from '../nn/model.js'
import { derive } from '../nn/random.js'
import { type ModelSpec, buildModel } from '../nn/spec.js'
import { specName } from '../norm/registry.js'
import { type Optimizer, lars, warmupCosine } from '../optim/optimizers.js'
import type { TeacherUpdate } from '../ema/teacher.js'
import { modelSpecOf } from './semiSupervised.js'
import { nonFiniteGuard } from './guard.js'
import type { SupervisedControl } from './supervised.js'
import { type Metrics, type ModelPass, type TrainState, disposeAll, readMetrics, stopGradient, toImages, valueAndGrads } from './common.js'
import { features, knnAccuracy } from './evaluation.js'
import { byolLoss, infoNce, l2Normalize, ntXent } from './losses.js'
import { linearProbe } from './probe.js'

/** The self-supervised method and its teacher. */
export type SelfSupervisedMethod = 'byol-bn' | 'byol-eman' | 'byol-m2' | 'moco-bn' | 'moco-eman' | 'simclr' | 'simclr-encoder' | 'simclr-projector'

/** Configuration of a self-supervised run. */
export interface SelfSupervisedConfig {
  readonly method: SelfSupervisedMethod
  readonly steps: number
  readonly batchSize: number
  readonly lr: number
  /** Teacher decay at step 0 (cosine to 1). */
  readonly emaBase: number
  /** Channels of the default convNet's stages (when `model` is absent). */
  readonly widths: readonly number[]
  /** The backbone (default: `{ kind: 'convNet', widths }`); its normalizer defaults to BatchNorm. */
  readonly model?: ModelSpec
  readonly projector: { readonly hidden: number; readonly out: number }
  readonly seed: number
  /** Images for the frozen-feature evaluation (train / test). */
  readonly probeTrain: number
  readonly probeTest: number
  /** MoCo's queue of negative keys (entries). */
  readonly queueSize: number
  /** k-NN accuracy of the frozen features every this many steps, for the learning curve (0 or absent: only at the end). */
  readonly evalEvery?: number
}

/** Small-scale defaults. */
export const SELF_DEFAULTS: SelfSupervisedConfig = {
  method: 'byol-eman',
  steps: 200,
  batchSize: 64,
  lr: 0.3,
  emaBase: 0.99,
  widths: [16, 32],
  projector: { hidden: 64, out: 32 },
  seed: 0,
  probeTrain: 2000,
  probeTest: 1000,
  queueSize: 256,
  evalEvery: 0,
}

/** What a self-supervised run returns. */
export interface SelfSupervisedResult {
  readonly config: SelfSupervisedConfig
  readonly linearProbe: number
  readonly knn: number
  readonly finalLoss: number
  /** Mean training step time in milliseconds (steps 6 onward, past the warm-up). */
  readonly stepMs: number
  /** k-NN accuracy against step (every `evalEvery` steps, and at the end): whether the run had flattened. */
  readonly curve: ReadonlyArray<{ readonly step: number; readonly knn: number }>
  readonly seconds: number
}

const withoutPredictor = (t: TreeRecord<tf.Tensor>): TreeRecord<tf.Tensor> => Object.fromEntries(Object.entries(t).filter(([k]) => k !== 'predictor'))

/** The normalizer of the momentum model of a method. */
const teacherNormOf = (method: SelfSupervisedMethod): string =>
  method === 'byol-eman' || method === 'moco-eman' ? 'eman' : method === 'byol-m2' ? 'momentumBatchNorm' : 'batchNorm'

/** The online and momentum models of a self-supervised run, and the forward passes each step makes. */
export const selfSupervisedModels = (config: SelfSupervisedConfig, inputShape: readonly [number, number, number]) => {
  const byol = config.method.startsWith('byol')
  const head = { hidden: config.projector.hidden, out: config.projector.out }
  const model = buildModel(modelSpecOf(config), {
    inputShape,
    norm: 'batchNorm',
    projector: head,
    ...(byol ? { predictor: head } : {}),
    totalSteps: config.steps,
  })
  const teacherNorm = teacherNormOf(config.method)
  // the teacher's normalizer replaces a BatchNorm student's; a batch-independent student's model is its own teacher's
  const swap = specName(model.norm) === 'batchNorm' && teacherNorm !== 'batchNorm'
  const teacherModel = swap ? model.withNorm(teacherNorm) : model
  const momentumBN = swap && teacherNorm === 'momentumBatchNorm'
  const passes: ModelPass[] = [
    { role: 'online model (each view)', model, batch: config.batchSize, mode: 'train' },
    momentumBN
      ? { role: 'momentum model (both views)', model: teacherModel, batch: 2 * config.batchSize, mode: 'train', context: { views: 2 } }
      : { role: 'momentum model (each view)', model: teacherModel, batch: config.batchSize, mode: teacherNorm === 'eman' ? 'eval' : 'train' },
    { role: 'features for the probes', model, batch: Math.min(500, config.probeTest), mode: 'eval' },
  ]
  return { model, teacherModel, passes }
}

/** Everything a self-supervised step needs besides the state and the views. */
export interface SelfSupervisedSetup {
  readonly config: SelfSupervisedConfig
  readonly model: Model
  readonly teacherModel: Model
  readonly optimizer: Optimizer
  readonly update: TeacherUpdate
}

/** The setup of a run: the models for `inputShape`, LARS on a warm-up-cosine schedule, and the donated teacher update with BYOL's cosine decay. */
export const selfSupervisedSetup = (config: SelfSupervisedConfig, inputShape: readonly [number, number, number]): SelfSupervisedSetup => {
  const { model, teacherModel } = selfSupervisedModels(config, inputShape)
  const policy =
    config.method === 'byol-eman' || config.method === 'moco-eman'
      ? emanPolicy
      : config.method === 'simclr-projector'
        ? projectorOnly(underPrefix('projector'))
        : weightsOnly
  // the old teacher is disposed right after each update: donate it (in-place EMA where the backend can)
  const update = unsafeTeacherUpdate(tfOps, { decay: cosineToOne(config.emaBase, config.steps), policy, donate: true })
  const optimizer = lars({ lr: warmupCosine({ base: config.lr, warmupSteps: Math.floor(config.steps / 10), totalSteps: config.steps }), weightDecay: 1e-5 })
  return { config, model, teacherModel, optimizer, update }
}

/** The state of a self-supervised run: the train state, and MoCo's queue of past keys. */
export interface SelfSupervisedState extends TrainState {
  /** MoCo's negatives `[queueSize, out]`, L2-normalised, newest first. */
  readonly queue?: tf.Tensor2D
}

/** The state at step 0: the online model from `config.seed`, the momentum model a copy of it without the predictor, MoCo's queue of random unit keys. */
export const initSelfSupervised = (setup: SelfSupervisedSetup): SelfSupervisedState => {
  const { config } = setup
  const init = setup.model.init(config.seed)
  return {
    student: init,
    teacher: { params: cloneTree(tfOps, withoutPredictor(init.params)), stats: cloneTree(tfOps, withoutPredictor(init.stats)) },
    opt: setup.optimizer.init(init.params),
    step: 0,
    ...(config.method.startsWith('moco')
      ? { queue: tf.tidy(() => l2Normalize(tf.randomNormal([config.queueSize, config.projector.out], 0, 1, 'float32', config.seed) as tf.Tensor2D)) }
      : {}),
  }
}

/**
 * One self-supervised step of `config.method` on two views of a batch: the momentum model's targets
 * (outside the gradient), the online loss over both views, the optimizer step, the teacher update,
 * and MoCo's queue. Returns the next state (new tensors, the queue included) and the loss.
 * `state` and the views are borrowed: dispose them yourself. Runs in its own scope.
 */
export const selfSupervisedStep = (
  setup: SelfSupervisedSetup,
  state: SelfSupervisedState,
  views: readonly [tf.Tensor4D, tf.Tensor4D],
  step: number,
): { readonly next: SelfSupervisedState; readonly loss: tf.Scalar } =>
  tfOps.tidy(() => {
    const { config, model, teacherModel, optimizer: opt, update } = setup
    const byol = config.method.startsWith('byol')
    const moco = config.method.startsWith('moco')
    const queue = state.queue
    const [x1, x2] = views
    const b = x1.shape[0]
    const teacher = state.teacher!
    // targets, outside the gradient
    let targets: [tf.Tensor2D, tf.Tensor2D] | undefined
    let teacherStats: TreeRecord<tf.Tensor> | undefined
    if (config.method === 'byol-m2') {
      const t = teacherModel.forward(teacher.params, teacher.stats, tf.concat([x1, x2], 0), 'train', { step, views: 2, heads: ['projector'] })
      targets = [tf.slice(t.projection!, [0, 0], [b, -1]), tf.slice(t.projection!, [b, 0], [b, -1])]
      teacherStats = t.stats
    } else if (config.method === 'byol-bn' || config.method === 'simclr-encoder' || config.method === 'moco-bn') {
      const t1 = teacherModel.forward(teacher.params, teacher.stats, x1, 'train', { heads: ['projector'] })
      const t2 = teacherModel.forward(teacher.params, t1.stats, x2, 'train', { heads: ['projector'] })
      disposeAll(t1.stats)
      targets = [t1.projection!, t2.projection!]
      teacherStats = t2.stats
    } else if (config.method === 'byol-eman' || config.method === 'moco-eman') {
      const t1 = teacherModel.forward(teacher.params, teacher.stats, x1, 'eval', { heads: ['projector'] })
      const t2 = teacherModel.forward(teacher.params, teacher.stats, x2, 'eval', { heads: ['projector'] })
      disposeAll([t1.stats, t2.stats])
      targets = [t1.projection!, t2.projection!]
    }
    const g = valueAndGrads(state.student.params, (params) => {
      const o1 = model.forward(params, state.student.stats, x1, 'train', { step })
      const o2 = model.forward(params, o1.stats, x2, 'train', { step })
      disposeAll(o1.stats)
      let loss: tf.Scalar
      if (byol) loss = tf.add(byolLoss(o1.prediction!, targets![1]), byolLoss(o2.prediction!, targets![0])) as tf.Scalar
      else if (moco) loss = tf.div(tf.add(infoNce(o1.projection!, targets![1], queue!), infoNce(o2.projection!, targets![0], queue!)), 2) as tf.Scalar
      else if (config.method === 'simclr') loss = ntXent(o1.projection!, o2.projection!)
      else if (config.method === 'simclr-encoder')
        loss = tf.div(tf.add(ntXent(o1.projection!, targets![1]), ntXent(o2.projection!, targets![0])), 2) as tf.Scalar
      else {
        // projector-only momentum: the momentum projector (train-mode BN, MoCo-style) sees the
        // online features under stop-gradient: one backbone pass per view
        const project = (h: tf.Tensor2D): tf.Tensor2D => {
          const t = teacherModel.forward(teacher.params, teacher.stats, h, 'train', { heads: ['projector'], features: stopGradient(h) })
          disposeAll(t.stats)
          return stopGradient(t.projection!)
        }
        loss = tf.div(tf.add(ntXent(o1.projection!, project(o2.features)), ntXent(o2.projection!, project(o1.features))), 2) as tf.Scalar
      }
      return { loss, stats: o2.stats }
    })
    const [params, optState] = opt.update(g.grads, state.student.params, state.opt, step)
    const student = { params, stats: g.stats }
    const teacherBase = teacherStats === undefined ? teacher : { params: teacher.params, stats: teacherStats }
    const studentSlots = { params: withoutPredictor(params), stats: withoutPredictor(g.stats) }
    // plain SimCLR has no teacher: it stays as it was (a copy, so the state owns fresh tensors)
    const newTeacher =
      config.method === 'simclr'
        ? { params: cloneTree(tfOps, teacher.params), stats: cloneTree(tfOps, teacher.stats) }
        : (update(studentSlots, step)(teacherBase)[1] as { params: TreeRecord<tf.Tensor>; stats: TreeRecord<tf.Tensor> })
    // MoCo: this step's keys (both views) enter the queue, the oldest leave
    const nextQueue = moco
      ? (tf.slice(tf.concat([l2Normalize(targets![0]), l2Normalize(targets![1]), queue!], 0), [0, 0], [config.queueSize, -1]) as tf.Tensor2D)
      : undefined
    const next: SelfSupervisedState = { student, teacher: newTeacher, opt: optState, step: step + 1, ...(nextQueue === undefined ? {} : { queue: nextQueue }) }
    return { next, loss: g.loss }
  })

export const runSelfSupervised = async (
  config: SelfSupervisedConfig,
  train: ImageSet,
  test: ImageSet,
  onProgress?: (step: number, metrics: Metrics) => void,
  control: SupervisedControl = {},
): Promise<SelfSupervisedResult> => {
  const t0 = Date.now()
  const setup = selfSupervisedSetup(config, [train.height, train.width, train.channels])
  const { model } = setup
  const next = batchStream(
    Array.from({ length: train.n }, (_, i) => i),
    config.batchSize,
    config.seed,
    'ssl',
  )
  const augR = derive(config.seed, 'augment')
  const aug = strong(train.width)
  let state: SelfSupervisedState = initSelfSupervised(setup)
  let lastLoss = NaN
  const guard = nonFiniteGuard(control.onNonFinite, control.onWarning)
  const stepTimes: number[] = []
  const curve: Array<{ step: number; knn: number }> = []
  // frozen-feature evaluation of the online encoder: k-NN, and the linear probe when asked
  const trainIdx = Array.from({ length: Math.min(config.probeTrain, train.n) }, (_, i) => i)
  const testIdx = Array.from({ length: Math.min(config.probeTest, test.n) }, (_, i) => i)
  const ytr = trainIdx.map((i) => train.labels[i]!)
  const yte = testIdx.map((i) => test.labels[i]!)
  const frozen = async (withProbe: boolean): Promise<{ knn: number; probe: number }> => {
    const ftr = await features(model, state.student.params, state.student.stats, train, trainIdx)
    const fte = await features(model, state.student.params, state.student.stats, test, testIdx)
    const dim = ftr.length / trainIdx.length
    const knn = await knnAccuracy(ftr, ytr, fte, yte, dim, 10, train.classes)
    return { knn, probe: withProbe ? await linearProbe(ftr, ytr, fte, yte, dim, 300, train.classes) : NaN }
  }
  try {
    for (let step = 0; step < config.steps; step++) {
      await control.yieldToHost?.()
      if (control.signal?.aborted === true) break
      const stepStart = Date.now()
      const idx = next()
      const b = idx.length
      const v1 = makeBatch(train, idx, aug, augR)
      const v2 = makeBatch(train, idx, aug, augR)
      const out = tfOps.tidy(() => selfSupervisedStep(setup, state, [toImages(v1, b, train), toImages(v2, b, train)], step))
      disposeAll(state)
      state = out.next
      lastLoss = (await readMetrics({ loss: out.loss })).loss!
      if (step >= 5) stepTimes.push(Date.now() - stepStart)
      await guard.loss(step + 1, lastLoss, state)
      onProgress?.(step + 1, { loss: lastLoss })
      const every = config.evalEvery ?? 0
      if (every > 0 && (step + 1) % every === 0 && step + 1 < config.steps) curve.push({ step: step + 1, knn: (await frozen(false)).knn })
    }
    await guard.state(state.step, state)
    const final = await frozen(true)
    curve.push({ step: state.step, knn: final.knn })
    const stepMs = stepTimes.length === 0 ? NaN : stepTimes.reduce((a, b) => a + b, 0) / stepTimes.length
    return { config, linearProbe: final.probe, knn: final.knn, finalLoss: lastLoss, stepMs, curve, seconds: (Date.now() - t0) / 1000 }
  } finally {
    disposeAll(state)
  }
}
