/**
 * The step-time half of the projector-only claim, measured as `polyak bench` measures: in one
 * process with nothing else running, interleaved pairs (a full-encoder-momentum SimCLR step, then a
 * projector-only one, `pairs` times, each the median of `repeats` steps after a warm-up), on each
 * backend asked for that can run here. The comparison is paired by pair:
 * `d_p = t_projector,p − t_encoder,p` (claimed `< 0`), and the ratio is the median over pairs of
 * `t_projector,p / t_encoder,p`.
 *
 * @module experiments/stepTiming
 */
import * as tf from '@tensorflow/tfjs-core'
import { registerGradients } from '../../nn/gradients.js'
import type { JsonModelSpec } from '../../nn/spec.js'
import { disposeAll } from '../../train/common.js'
import { SELF_DEFAULTS, type SelfSupervisedConfig, initSelfSupervised, selfSupervisedSetup, selfSupervisedStep } from '../../train/selfSupervised.js'
import { type PairedComparison, pairedComparison } from './paired.js'

/** What to time. */
export interface StepTimingOptions {
  readonly backends: readonly string[]
  readonly model: JsonModelSpec
  /** Image side (one channel). */
  readonly resolution: number
  readonly batchSize: number
  readonly pairs: number
  /** Steps per measurement (its median is the measurement). */
  readonly repeats: number
  readonly onProgress?: (line: string) => void
}

/** One backend's measurement. */
export interface BackendStepTiming {
  readonly backend: string
  /** Per pair: the full-encoder and projector-only step medians, in ms. */
  readonly pairs: ReadonlyArray<{ readonly encoder: number; readonly projector: number }>
  /** Projector-only − full-encoder step time (ms), paired by pair, claimed `less`. */
  readonly comparison: PairedComparison
  /** Median over pairs of projector-only ÷ full-encoder. */
  readonly ratio: number
  readonly ratioRange: readonly [number, number]
}

/** The result: each backend that could run, and why the others did not. */
export interface StepTimingResult {
  readonly options: Omit<StepTimingOptions, 'onProgress'>
  readonly backends: readonly BackendStepTiming[]
  readonly skipped: ReadonlyArray<{ readonly backend: string; readonly reason: string }>
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** A stepper for one method: `step()` runs one training step on fixed views and waits for its loss. */
const stepper = (method: 'simclr-encoder' | 'simclr-projector', o: StepTimingOptions) => {
  const config: SelfSupervisedConfig = { ...SELF_DEFAULTS, method, batchSize: o.batchSize, steps: 1000, model: o.model, lr: (0.3 * o.batchSize) / 64 }
  const shape = [o.resolution, o.resolution, 1] as const
  const setup = selfSupervisedSetup(config, shape)
  let state = initSelfSupervised(setup)
  const views = [0, 1].map((i) => tf.randomUniform([o.batchSize, ...shape], 0, 1, 'float32', 7 + i) as tf.Tensor4D) as [tf.Tensor4D, tf.Tensor4D]
  let k = 0
  return {
    step: async (): Promise<number> => {
      const t0 = performance.now()
      const out = selfSupervisedStep(setup, state, views, k++)
      await out.loss.data()
      const ms = performance.now() - t0
      disposeAll([state, out.loss])
      state = out.next
      return ms
    },
    dispose: () => disposeAll([state, ...views]),
  }
}

/** Times full-encoder against projector-only momentum steps on each backend (module doc). */
export const timeMomentumSteps = async (o: StepTimingOptions): Promise<StepTimingResult> => {
  const { backends: all, unsafeUseBackend, forceGpuKernels } = await import('../../../backends/index.js')
  registerGradients()
  const results: BackendStepTiming[] = []
  const skipped: Array<{ backend: string; reason: string }> = []
  for (const name of o.backends) {
    const d = all.find((b) => b.name === name)
    const a = d === undefined ? { available: false as const, reason: 'no such backend' } : await d.probe()
    if (!a.available) {
      skipped.push({ backend: name, reason: a.reason })
      continue
    }
    await unsafeUseBackend(name)
    if (name === 'webgpu') await forceGpuKernels()
    const arms = { encoder: stepper('simclr-encoder', o), projector: stepper('simclr-projector', o) }
    try {
      for (const s of Object.values(arms)) for (let w = 0; w < 2; w++) await s.step()
      const pairs: Array<{ encoder: number; projector: number }> = []
      for (let p = 0; p < o.pairs; p++) {
        const m = { encoder: 0, projector: 0 }
        for (const key of ['encoder', 'projector'] as const) {
          const ts: number[] = []
          for (let r = 0; r < o.repeats; r++) ts.push(await arms[key].step())
          m[key] = median(ts)
        }
        pairs.push(m)
        o.onProgress?.(`${name}: pair ${p + 1}/${o.pairs}: full-encoder ${m.encoder.toFixed(1)} ms, projector-only ${m.projector.toFixed(1)} ms`)
      }
      const ratios = pairs.map((p) => p.projector / p.encoder)
      results.push({
        backend: name,
        pairs,
        comparison: pairedComparison(new Map(pairs.map((p, i) => [i, p.projector])), new Map(pairs.map((p, i) => [i, p.encoder])), 'less'),
        ratio: median(ratios),
        ratioRange: [Math.min(...ratios), Math.max(...ratios)],
      })
    } finally {
      arms.encoder.dispose()
      arms.projector.dispose()
    }
  }
  const { onProgress: _, ...options } = o
  return { options, backends: results, skipped }
}
