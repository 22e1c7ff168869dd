/**
 * Train-file options for the experiments: the image resolution (28×28, the datasets' own, or 14×14)
 * and the supervised optimizer (Adam, or SGD with momentum), decoded with errors naming the field,
 * checked on shapes, and run.
 */
import * as E from 'fp-ts/lib/Either.js'
import { beforeAll, describe, expect, it } from 'vitest'
import type { ImageSet } from 'polyak'
import { loadMnist } from 'polyak/node'
import { unsafeUseBackend } from 'polyak/backends'
import { decodeTrainFile } from '../../src/train/trainConfig.js'
import { checkTrainFile } from '../../src/train/check.js'
import { initSupervised, runSupervised, supervisedSetup, supervisedStep } from '../../src/train/supervised.js'
import { SEMI_DEFAULTS, initSemiSupervised, runSemiSupervised, semiSupervisedSetup } from '../../src/train/semiSupervised.js'
import { disposeAll } from '../../src/train/common.js'
import { SELF_DEFAULTS, runSelfSupervised } from '../../src/train/selfSupervised.js'
import { labelledSplit } from 'polyak'
import { TINY_SEMI, tinyMnist } from '../support/data.js'
import * as tf from '@tensorflow/tfjs-core'

const decoded = (json: unknown) => {
  const r = decodeTrainFile(json)
  if (E.isLeft(r)) throw r.left
  return r.right
}

describe('data.resolution', () => {
  it('is 14 by default and 28 on request; the shape check runs the model at that size', () => {
    const small = decoded({ kind: 'supervised', config: { widths: [4, 8] } })
    const full = decoded({ kind: 'supervised', data: { resolution: 28 }, config: { widths: [4, 8], model: { kind: 'resnet', depth: 8, width: 4 } } })
    expect(small.data.resolution).toBe(14)
    expect(full.data.resolution).toBe(28)
    const layers = checkTrainFile(full).passes[0]!.shapes.layers.join(' ')
    expect(layers).toMatch(/\[64,28,28,4\]/)
    expect(checkTrainFile(small).passes[0]!.shapes.layers.join(' ')).toMatch(/\[64,14,14,4\]/)
  })

  it('refuses another size, naming the field', () => {
    const bad = decodeTrainFile({ kind: 'supervised', data: { resolution: 20 } })
    expect(E.isLeft(bad) && bad.left.message).toMatch(/field 'data\.resolution'.*14 or 28/)
  })
})

describe('the supervised optimizer', () => {
  let train: ImageSet
  let test: ImageSet
  beforeAll(async () => {
    await unsafeUseBackend('cpu')
    train = loadMnist('train', { limit: 200, factor: 2 })
    test = loadMnist('test', { limit: 40, factor: 2 })
  })

  it('decodes Adam by default and SGD with momentum on request; refuses unknown ones and a momentum outside [0, 1]', () => {
    expect(decoded({ kind: 'supervised' }).config).toMatchObject({ optimizer: 'adam', momentum: 0.9, weightDecay: 0 })
    expect(decoded({ kind: 'supervised', config: { optimizer: 'sgd', momentum: 0.5 } }).config).toMatchObject({ optimizer: 'sgd', momentum: 0.5 })
    const unknown = decodeTrainFile({ kind: 'supervised', config: { optimizer: 'rmsprop' } })
    expect(E.isLeft(unknown) && unknown.left.message).toMatch(/field 'config\.optimizer'/)
    const momentum = decodeTrainFile({ kind: 'supervised', config: { optimizer: 'sgd', momentum: 1.5 } })
    expect(E.isLeft(momentum) && momentum.left.message).toMatch(/field 'config\.momentum'/)
  })

  it("SGD's first step moves each parameter by lr·gradient (momentum starts at zero); Adam's by about lr", async () => {
    const base = { norm: 'groupNorm', weightNorm: 'none', batchSize: 8, samples: 8, lr: 1e-3, widths: [4], seed: 0, evalLimit: 8 } as const
    const x = tf.tensor4d(Array.from(train.images.slice(0, 8 * 196)), [8, 14, 14, 1])
    const labels = tf.tensor1d(Array.from(train.labels.slice(0, 8)), 'int32')
    const moves = async (optimizer: 'adam' | 'sgd'): Promise<number[]> => {
      const setup = supervisedSetup({ ...base, optimizer, momentum: 0.9 }, [14, 14, 1])
      const s0 = initSupervised(setup)
      const { next, loss } = supervisedStep(setup, s0, { x, labels }, 0)
      const w0 = (s0.student.params.classifier as Record<string, tf.Tensor>).weight!
      const w1 = (next.student.params.classifier as Record<string, tf.Tensor>).weight!
      const d = Array.from(await tf.abs(tf.sub(w1, w0)).data())
      tf.dispose([s0 as never, next as never, loss])
      return d
    }
    const adamMoves = await moves('adam')
    const sgdMoves = await moves('sgd')
    // Adam's first step is lr·g/(|g| + ε): about lr wherever the gradient is not tiny
    expect(Math.max(...adamMoves)).toBeCloseTo(1e-3, 4)
    // SGD's is lr·|g|: proportional to the gradient, so its moves spread over decades
    expect(Math.max(...sgdMoves) / Math.max(1e-12, Math.min(...sgdMoves.filter((m) => m > 0)))).toBeGreaterThan(10)
    tf.dispose([x, labels])
  })

  it('trains with SGD and momentum: the loss falls', async () => {
    const r = await runSupervised(
      {
        norm: 'groupNorm',
        weightNorm: 'weightAlign',
        batchSize: 16,
        samples: 400,
        lr: 0.05,
        widths: [4, 8],
        seed: 0,
        evalLimit: 40,
        optimizer: 'sgd',
        momentum: 0.9,
        weightDecay: 0,
      },
      train,
      test,
    )
    expect(Number.isFinite(r.finalLoss)).toBe(true)
    expect(r.finalLoss).toBeLessThan(Math.log(10))
  })
})

describe('labels per class (FixMatch protocol)', () => {
  it('keeps exactly k labels of each class, the same ones for a seed, all of a class that has fewer', () => {
    const labels = Uint8Array.from({ length: 300 }, (_, i) => (i < 12 ? 9 : i % 9))
    for (const k of [1, 4, 25]) {
      const { labelled, unlabelled } = labelledSplit(labels, 0.5, 3, 10, k)
      const per = Array.from({ length: 10 }, (_, c) => labelled.filter((i) => labels[i] === c).length)
      const available = Array.from({ length: 10 }, (_, c) => labels.filter((l) => l === c).length)
      expect(per).toEqual(available.map((n) => Math.min(k, n)))
      expect(labelled.length + unlabelled.length).toBe(300)
      expect(labelledSplit(labels, 0.5, 3, 10, k).labelled).toEqual(labelled)
    }
    // without perClass, the fraction decides as before
    expect(labelledSplit(labels, 0.1, 3, 10).labelled.length).toBeGreaterThan(10 * 1)
  })

  it('is a train-file field (a positive integer) and a FixMatch run uses it', async () => {
    expect(decoded({ kind: 'semiSupervised', config: { labelsPerClass: 4 } }).config).toMatchObject({ labelsPerClass: 4 })
    const zero = decodeTrainFile({ kind: 'semiSupervised', config: { labelsPerClass: 0 } })
    expect(E.isLeft(zero) && zero.left.message).toMatch(/field 'config\.labelsPerClass'/)
    await unsafeUseBackend('cpu')
    const { train, test } = tinyMnist()
    const r = await runSemiSupervised({ ...SEMI_DEFAULTS, ...TINY_SEMI, steps: 2, labelsPerClass: 2 }, train, test)
    expect(Number.isFinite(r.final.student)).toBe(true)
  })
})

describe('data.evaluateOn: a validation split', () => {
  it("is 'test' by default; 'validation' needs trainImages + testImages within the training split", () => {
    expect(decoded({ kind: 'supervised' }).data.evaluateOn).toBe('test')
    expect(decoded({ kind: 'supervised', data: { evaluateOn: 'validation', trainImages: 1024, testImages: 1000 } }).data.evaluateOn).toBe('validation')
    const over = decodeTrainFile({ kind: 'supervised', data: { evaluateOn: 'validation', trainImages: 59500, testImages: 1000 } })
    expect(E.isLeft(over) && over.left.message).toMatch(/field 'data\.testImages'.*trainImages \+ testImages must be ≤ 60000/)
    const bad = decodeTrainFile({ kind: 'supervised', data: { evaluateOn: 'train' } })
    expect(E.isLeft(bad) && bad.left.message).toMatch(/field 'data\.evaluateOn'/)
  })

  it('reads the images after the ones trained on: the same images and labels as the whole split at that offset', () => {
    const all = loadMnist('train', { limit: 300 })
    const after = loadMnist('train', { offset: 200, limit: 100 })
    expect(after.n).toBe(100)
    expect(Array.from(after.labels)).toEqual(Array.from(all.labels.slice(200, 300)))
    expect(Array.from(after.images.subarray(0, 784))).toEqual(Array.from(all.images.subarray(200 * 784, 201 * 784)))
    expect(() => loadMnist('train', { offset: 60000 })).toThrow(/offset 60000 must be an integer in \[0, 60000\)/)
  })
})

describe('learning curves and the teacher warm-up', () => {
  beforeAll(async () => {
    await unsafeUseBackend('cpu')
  })

  it('a supervised run with evalEvery reports the accuracy every evalEvery steps and at the end', async () => {
    const { train, test } = tinyMnist()
    const config = { ...decoded({ kind: 'supervised', config: { widths: [4], batchSize: 8, samples: 40, evalEvery: 2, evalLimit: 20 } }).config }
    const r = await runSupervised(config as never, train, test)
    expect(r.curve.map((p) => p.step)).toEqual([2, 4, 5])
    expect(r.curve[r.curve.length - 1]!.accuracy).toBe(r.accuracy)
  })

  it('a self-supervised run with evalEvery reports k-NN on frozen features every evalEvery steps and at the end', async () => {
    const { train, test } = tinyMnist()
    const r = await runSelfSupervised(
      { ...SELF_DEFAULTS, method: 'byol-bn', widths: [4], batchSize: 8, steps: 4, evalEvery: 2, probeTrain: 60, probeTest: 20 },
      train,
      test,
    )
    expect(r.curve.map((p) => p.step)).toEqual([2, 4])
    expect(r.curve[1]!.knn).toBe(r.knn)
    for (const p of r.curve) expect(p.knn).toBeGreaterThanOrEqual(0)
  })

  it('a semi-supervised teacher with emaWarmup averages as Mean Teacher does: d_k = min(decay, 1 − 1/(k + 1)); without it, d_k = decay', () => {
    const decays = (emaWarmup: boolean): number[] => {
      const setup = semiSupervisedSetup({ ...SEMI_DEFAULTS, ...TINY_SEMI, emaDecay: 0.999, emaWarmup }, [14, 14, 1])
      const s = initSemiSupervised(setup)
      const out = [0, 1, 9, 999, 5000].map((k) => {
        const [report, teacher] = setup.update(s.student, k)(s.teacher!)
        tf.dispose(teacher as never)
        return (report as { decay: number }).decay
      })
      disposeAll(s)
      return out
    }
    expect(decays(true)).toEqual([0, 0.5, 0.9, 0.999, 0.999])
    expect(decays(false)).toEqual([0.999, 0.999, 0.999, 0.999, 0.999])
  })
})
