/**
 * End to end: a tiny version of every pipeline (few steps, a small subset of MNIST) on cpu, wasm (the demo's backend) and
 * webgpu; memory returns to where it was after each run.
 */
import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, expect } from 'vitest'
import type { ImageSet } from 'polyak'
import { loadMnist } from 'polyak/node'
import { SELF_DEFAULTS, type SelfSupervisedMethod, runSelfSupervised } from '../../src/train/selfSupervised.js'
import { SEMI_DEFAULTS, runSemiSupervised } from '../../src/train/semiSupervised.js'
import { runSupervised } from '../../src/train/supervised.js'
import { describeEachBackend, itOn } from '../support/backends.js'

let train: ImageSet
let test: ImageSet
beforeAll(() => {
  train = loadMnist('train', { limit: 400, factor: 2 })
  test = loadMnist('test', { limit: 40, factor: 2 })
})

describeEachBackend(
  'pipelines (tiny)',
  (b) => {
    const it = itOn(b)
    const flat = async (run: () => Promise<unknown>) => {
      const before = tf.memory().numTensors
      await run()
      expect(tf.memory().numTensors, 'tensors left after the run').toBe(before)
    }
    for (const [method, teacher] of [
      ['fixmatch', 'none'],
      ['fixmatch', 'bn'],
      ['fixmatch', 'eman'],
      ['meanTeacher', 'eman'],
    ] as const) {
      it(`semi-supervised ${method} with teacher ${teacher}`, () =>
        flat(async () => {
          const r = await runSemiSupervised(
            {
              ...SEMI_DEFAULTS,
              method,
              teacher,
              labelledFraction: 0.05,
              steps: 3,
              batchLabelled: 8,
              batchUnlabelled: 8,
              widths: [4, 8],
              evalEvery: 2,
              evalLimit: 40,
            },
            train,
            test,
          )
          expect(r.curve.map((p) => p.step)).toEqual([2, 3])
          expect(r.final.student).toBeGreaterThanOrEqual(0)
          expect(r.final.teacher === undefined).toBe(teacher === 'none')
        }))
    }
    for (const method of ['byol-bn', 'byol-eman', 'byol-m2', 'simclr-encoder', 'simclr-projector'] as SelfSupervisedMethod[]) {
      it(`self-supervised ${method}`, () =>
        flat(async () => {
          const losses: number[] = []
          const r = await runSelfSupervised(
            { ...SELF_DEFAULTS, method, steps: 3, batchSize: 8, widths: [4, 8], projector: { hidden: 8, out: 4 }, probeTrain: 40, probeTest: 20 },
            train,
            test,
            (_s, m) => losses.push(m.loss!),
          )
          expect(losses.length).toBe(3)
          expect(losses.every(Number.isFinite)).toBe(true)
          expect(r.linearProbe).toBeGreaterThanOrEqual(0)
          expect(r.knn).toBeGreaterThanOrEqual(0)
        }))
    }
    for (const [norm, weightNorm] of [
      ['batchNorm', 'none'],
      ['groupNorm', 'weightAlign'],
    ] as const) {
      it(`supervised ${norm} + ${weightNorm}`, () =>
        flat(async () => {
          const r = await runSupervised({ norm, weightNorm, batchSize: 4, samples: 12, lr: 1e-3, widths: [4, 8], seed: 0, evalLimit: 40 }, train, test)
          expect(r.steps).toBe(3)
          expect(Number.isFinite(r.finalLoss)).toBe(true)
        }))
    }
  },
  ['cpu', 'wasm', 'webgpu'],
)

describeEachBackend(
  'a teacher learns (wasm: the demo backend, with donated in-place teacher updates)',
  (b) => {
    const it = itOn(b)
    // Values of a donated teacher can be right while a backend still computes with stale weights
    // (tfjs-wasm caches packed conv/matMul weights per tensor id): only a teacher's accuracy shows it.
    it('an EMAN teacher after 200 FixMatch steps classifies far above chance', async () => {
      const trainSet = loadMnist('train', { limit: 3000, factor: 2 })
      const testSet = loadMnist('test', { limit: 300, factor: 2 })
      const r = await runSemiSupervised({ ...SEMI_DEFAULTS, teacher: 'eman', steps: 200, evalEvery: 0, evalLimit: 300 }, trainSet, testSet)
      expect(r.final.student).toBeGreaterThan(0.3)
      expect(r.final.teacher!).toBeGreaterThan(0.3)
    }, 60_000)
  },
  ['wasm'],
)
