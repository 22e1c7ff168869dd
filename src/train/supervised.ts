/**
 * Plain supervised training of the small conv net, used by the batch-size sweep that compares
 * BatchNorm with batch-independent normalisation (WeightAlign + GroupNorm): at a fixed budget of
 * training images, accuracy as a function of the batch size.
 *
 * @module train/supervised
 */
import { WEAK, batchStream, makeBatch } from '../data/augment.js'
import type { ImageSet } from '../data/images.js'
import { tfOps } from '../core/tfOps.js'
import { type NormSpec, convNet } from '../nn/model.js'
import { derive } from '../nn/random.js'
import { adam } from '../optim/optimizers.js'
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
  readonly widths: readonly number[]
  readonly seed: number
  readonly evalLimit: number
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
  readonly seconds: number
}

/** Trains with Adam at a fixed sample budget and reports test accuracy (eval mode). */
/** The model of a supervised run, and the forward passes each step makes. */
export const supervisedModels = (config: SupervisedConfig, inputShape: readonly [number, number, number]) => {
  const steps = Math.ceil(config.samples / config.batchSize)
  const model = convNet({ inputShape, widths: config.widths, norm: config.norm, weightNorm: config.weightNorm, classes: 10, totalSteps: steps })
  const passes: ModelPass[] = [
    { role: 'training batch', model, batch: config.batchSize, mode: 'train' },
    { role: 'evaluation', model, batch: Math.min(500, config.evalLimit), mode: 'eval' },
  ]
  return { model, passes }
}

export const runSupervised = async (
  config: SupervisedConfig,
  train: ImageSet,
  test: ImageSet,
  onProgress?: (step: number, steps: number, metrics?: Metrics) => void,
  control: SupervisedControl = {},
): Promise<SupervisedResult> => {
  const t0 = Date.now()
  const steps = Math.ceil(config.samples / config.batchSize)
  const { model } = supervisedModels(config, [train.height, train.width, 1])
  const next = batchStream(
    Array.from({ length: train.n }, (_, i) => i),
    config.batchSize,
    config.seed,
    'supervised',
  )
  const augR = derive(config.seed, 'augment')
  const opt = adam({ lr: config.lr })
  const init = model.init(config.seed)
  let state: TrainState = { student: init, opt: opt.init(init.params), step: 0 }
  const guard = nonFiniteGuard(control.onNonFinite, control.onWarning)
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
      const out = tfOps.tidy(() => {
        const g = valueAndGrads(state.student.params, (params) => {
          const o = model.forward(params, state.student.stats, toImages(x, idx.length, train), 'train', { heads: ['classifier'], step })
          return { loss: crossEntropy(o.logits!, tf.tensor1d(y, 'int32')), stats: o.stats }
        })
        const [params, optState] = opt.update(g.grads, state.student.params, state.opt, step)
        return { next: { student: { params, stats: g.stats }, opt: optState, step: step + 1 } as TrainState, loss: g.loss }
      })
      disposeAll(state)
      state = out.next
      lastLoss = (await readMetrics({ loss: out.loss })).loss!
      await guard.loss(step + 1, lastLoss, state)
      const report = step + 1 === steps || (step + 1) % Math.max(1, Math.floor(steps / 20)) === 0
      onProgress?.(step + 1, steps, report ? { loss: lastLoss } : undefined)
    }
    await guard.state(done, state)
    const acc = await accuracy(model, state.student.params, state.student.stats, test, config.evalLimit)
    return { config, steps: done, accuracy: acc, finalLoss: lastLoss, seconds: (Date.now() - t0) / 1000 }
  } finally {
    disposeAll(state)
  }
}
