/**
 * Plain supervised training of any backbone (`config.model`: the small conv net by default, a
 * ResNet, or a `Module` of the user's) with a classifier head, used by the batch-size sweep that
 * compares BatchNorm with batch-independent normalisation (WeightAlign + GroupNorm): at a fixed
 * budget of training images, accuracy as a function of the batch size. `supervisedStep` is one
 * step for a loop of the user's; `runSupervised` the loop with the evaluation.
 *
 * @module train/supervised
 */
import { WEAK, batchStream, makeBatch } from '../data/augment.js'
import type { ImageSet } from '../data/images.js'
import { tfOps } from '../core/tfOps.js'
import type { Model, NormSpec } from '../nn/model.js'
import { derive } from '../nn/random.js'
import { type ModelSpec, buildModel } from '../nn/spec.js'
import { type Optimizer, adam, sgd } from '../optim/optimizers.js'
import { modelSpecOf } from './semiSupervised.js'
import { type Metrics, type ModelPass, type TrainState, disposeAll, readMetrics, toImages, valueAndGrads } from './common.js'
import { accuracy } from './evaluation.js'
import { crossEntropy } from './losses.js'
import * as tf from '@tensorflow/tfjs-core'
import { type GuardControl, nonFiniteGuard } from './guard.js'

/** Configuration of a supervised run. */
export interface SupervisedConfig {
  /** The activation normalizer (`norm/registry`: a name or `{ name, config }`, or `'none'`). */
  readonly norm: NormSpec
  /** The weight normalizer of the convolutions (`'weightAlign'`, `'weightStandardization'`, a registered one, or `'none'`). */
  readonly weightNorm: NormSpec
  readonly batchSize: number
  /** Training images seen in total; steps = ceil(samples / batchSize). */
  readonly samples: number
  readonly lr: number
  /** Channels of the default convNet's stages (when `model` is absent). */
  readonly widths: readonly number[]
  /** The backbone (default: `{ kind: 'convNet', widths }`); a `norm` or `weightNorm` in it wins over the fields above. */
  readonly model?: ModelSpec
  readonly seed: number
  readonly evalLimit: number
  /**
   * `'adam'` (the default) or `'sgd'`: SGD with heavy-ball momentum, as `torch.optim.SGD`, whose step
   * shrinks with the gradient's noise, unlike Adam's (what a batch-size sweep at a fixed number of
   * epochs wants).
   */
  readonly optimizer?: 'adam' | 'sgd'
  /** SGD's momentum (default 0.9); ignored by Adam. */
  readonly momentum?: number
  /** SGD's L2 weight decay (default 0); ignored by Adam. */
  readonly weightDecay?: number
  /** Evaluate every this many steps as well as at the end, for the learning curve (0 or absent: only at the end). */
  readonly evalEvery?: number
}

/** Controls of a supervised run: stopping early, and giving the host a turn between steps. */
export interface SupervisedControl extends GuardControl {
  /** Checked before every step: once aborted, training stops and the state so far is evaluated. */
  readonly signal?: AbortSignal
  /** Awaited before every step; a page passes `() => new Promise((r) => setTimeout(r))` so that it can repaint and handle input. */
  readonly yieldToHost?: () => Promise<void>
}

/** What a supervised run returns. */
export interface SupervisedResult {
  readonly config: SupervisedConfig
  /** Steps taken (fewer than planned when stopped early). */
  readonly steps: number
  readonly accuracy: number
  readonly finalLoss: number
  /** Accuracy against step (every `evalEvery` steps, and at the end): whether the run had flattened. */
  readonly curve: ReadonlyArray<{ readonly step: number; readonly accuracy: number }>
  readonly seconds: number
}

/** The model of a supervised run, and the forward passes each step makes. */
export const supervisedModels = (config: SupervisedConfig, inputShape: readonly [number, number, number], classes = 10) => {
  const steps = Math.ceil(config.samples / config.batchSize)
  const model = buildModel(modelSpecOf(config), { inputShape, classes, norm: config.norm, weightNorm: config.weightNorm, totalSteps: steps })
  const passes: ModelPass[] = [
    { role: 'training batch', model, batch: config.batchSize, mode: 'train' },
    { role: 'evaluation', model, batch: Math.min(500, config.evalLimit), mode: 'eval' },
  ]
  return { model, passes }
}

/** Everything a supervised step needs besides the state and the batch. */
export interface SupervisedSetup {
  readonly config: SupervisedConfig
  readonly model: Model
  readonly optimizer: Optimizer
}

/** The setup of a run: the model for `inputShape` and `classes`, and Adam (or SGD with momentum, `config.optimizer`) at `config.lr`. */
export const supervisedSetup = (config: SupervisedConfig, inputShape: readonly [number, number, number], classes = 10): SupervisedSetup => ({
  config,
  model: supervisedModels(config, inputShape, classes).model,
  optimizer:
    config.optimizer === 'sgd' ? sgd({ lr: config.lr, momentum: config.momentum ?? 0.9, weightDecay: config.weightDecay ?? 0 }) : adam({ lr: config.lr }),
})

/** The state at step 0: the model from `config.seed` and fresh optimizer state. */
export const initSupervised = (setup: SupervisedSetup): TrainState => {
  const init = setup.model.init(setup.config.seed)
  return { student: init, opt: setup.optimizer.init(init.params), step: 0 }
}

/**
 * One supervised step: cross-entropy of the classifier on `x` (`[N, H, W, C]`) against `labels`,
 * train mode, and the optimizer step. Returns the next state (new tensors) and the loss; `state`
 * and the batch are borrowed. Runs in its own scope.
 */
export const supervisedStep = (
  setup: SupervisedSetup,
  state: TrainState,
  batch: { readonly x: tf.Tensor4D; readonly labels: tf.Tensor1D },
  step: number,
): { readonly next: TrainState; readonly loss: tf.Scalar } =>
  tfOps.tidy(() => {
    const g = valueAndGrads(state.student.params, (params) => {
      const o = setup.model.forward(params, state.student.stats, batch.x, 'train', { heads: ['classifier'], step })
      return { loss: crossEntropy(o.logits!, batch.labels), stats: o.stats }
    })
    const [params, optState] = setup.optimizer.update(g.grads, state.student.params, state.opt, step)
    return { next: { student: { params, stats: g.stats }, opt: optState, step: step + 1 }, loss: g.loss }
  })

export const runSupervised = async (
  config: SupervisedConfig,
  train: ImageSet,
  test: ImageSet,
  onProgress?: (step: number, steps: number, metrics?: Metrics) => void,
  control: SupervisedControl = {},
): Promise<SupervisedResult> => {
  const t0 = Date.now()
  const steps = Math.ceil(config.samples / config.batchSize)
  const setup = supervisedSetup(config, [train.height, train.width, train.channels], train.classes)
  const next = batchStream(
    Array.from({ length: train.n }, (_, i) => i),
    config.batchSize,
    config.seed,
    'supervised',
  )
  const augR = derive(config.seed, 'augment')
  let state: TrainState = initSupervised(setup)
  const guard = nonFiniteGuard(control.onNonFinite, control.onWarning)
  const curve: Array<{ step: number; accuracy: number }> = []
  try {
    let lastLoss = NaN
    let done = 0
    for (let step = 0; step < steps; step++) {
      await control.yieldToHost?.()
      if (control.signal?.aborted === true) break
      done = step + 1
      const idx = next()
      const x = makeBatch(train, idx, WEAK, augR)
      const y = Array.from(idx, (i) => train.labels[i]!)
      const out = tfOps.tidy(() => supervisedStep(setup, state, { x: toImages(x, idx.length, train), labels: tf.tensor1d(y, 'int32') }, step))
      disposeAll(state)
      state = out.next
      lastLoss = (await readMetrics({ loss: out.loss })).loss!
      await guard.loss(step + 1, lastLoss, state)
      const report = step + 1 === steps || (step + 1) % Math.max(1, Math.floor(steps / 20)) === 0
      onProgress?.(step + 1, steps, report ? { loss: lastLoss } : undefined)
      const every = config.evalEvery ?? 0
      if (every > 0 && (step + 1) % every === 0 && step + 1 < steps)
        curve.push({ step: step + 1, accuracy: await accuracy(setup.model, state.student.params, state.student.stats, test, config.evalLimit) })
    }
    await guard.state(done, state)
    const acc = await accuracy(setup.model, state.student.params, state.student.stats, test, config.evalLimit)
    curve.push({ step: done, accuracy: acc })
    return { config, steps: done, accuracy: acc, finalLoss: lastLoss, curve, seconds: (Date.now() - t0) / 1000 }
  } finally {
    disposeAll(state)
  }
}
