/**
 * Bring your own model and data: the pipelines train a CIFAR-style ResNet on RGB images built from
 * plain arrays, from code and from a train file, with every registered activation normalizer (and
 * WeightAlign or weight standardisation in front of one), on cpu, wasm and webgpu; a backbone
 * written in this file (not in `src`) plugs into FixMatch and BYOL; the exported steps make a loop
 * of the user's; a resumed ResNet run ends bitwise where an uninterrupted one ends.
 */
import * as tf from '@tensorflow/tfjs-core'
import {
  type ImageSet,
  type Module,
  type ModelSpec,
  SELF_DEFAULTS,
  SEMI_DEFAULTS,
  conv,
  decodeModelSpec,
  disposeAll,
  fromArrays,
  globalAvgPool,
  initSupervised,
  memoryStore,
  norm,
  relu,
  residual,
  runSelfSupervised,
  runSemiSupervised,
  runSupervised,
  semiSupervisedSetup,
  sequential,
  supervisedSetup,
  supervisedStep,
} from 'polyak'
import { decodeTrainFile } from '../../src/train/trainConfig.js'
import { checkTrainFile } from '../../src/train/check.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { tinyMnist } from '../support/data.js'
import { describeEachBackend, itOn } from '../support/backends.js'

/** MNIST digits as RGB images: each channel a differently scaled copy, the labels kept; standardised with the set's own statistics. */
const rgb = (set: ImageSet, n: number): ImageSet => {
  const per = set.height * set.width
  const images = new Float32Array(n * per * 3)
  for (let i = 0; i < n * per; i++) for (let c = 0; c < 3; c++) images[i * 3 + c] = set.images[i]! * (1 - 0.3 * c) + 0.1 * c
  return fromArrays({ images, labels: set.labels.subarray(0, n), shape: [set.height, set.width, 3], classes: 10 })
}

let train: ImageSet
let test: ImageSet
beforeAll(() => {
  const mnist = tinyMnist()
  train = rgb(mnist.train, 200)
  test = rgb(mnist.test, 40)
})

const RESNET: ModelSpec = { kind: 'resnet', depth: 8, width: 4 }

const semi = (model: ModelSpec, extra: Record<string, unknown> = {}) => ({
  ...SEMI_DEFAULTS,
  labelledFraction: 0.05,
  batchLabelled: 8,
  batchUnlabelled: 8,
  steps: 3,
  evalEvery: 0,
  evalLimit: 40,
  model,
  ...extra,
})
const self = (model: ModelSpec, method: (typeof SELF_DEFAULTS)['method']) => ({
  ...SELF_DEFAULTS,
  method,
  steps: 3,
  batchSize: 8,
  projector: { hidden: 8, out: 4 },
  probeTrain: 40,
  probeTest: 20,
  queueSize: 16,
  model,
})
const supervised = (model: ModelSpec, normSpec = 'batchNorm', weightNorm = 'none') => ({
  norm: normSpec,
  weightNorm,
  batchSize: 8,
  samples: 24,
  lr: 1e-3,
  widths: [4],
  seed: 0,
  evalLimit: 20,
  model,
})

describe('images from plain arrays', () => {
  it('fromArrays builds RGB sets channel-last, standardised per channel, with the classes of the labels', () => {
    expect(train.channels).toBe(3)
    expect(train.classes).toBe(10)
    expect(train.normalization.mean).toHaveLength(3)
    const one = fromArrays({ images: [[1, 2, 3, 4]], labels: [2], shape: [2, 2] })
    expect([one.channels, one.classes, one.height, one.width]).toEqual([1, 3, 2, 2])
    expect(one.normalization.mean[0]).toBeCloseTo(2.5)
  })

  it('refuses bad arrays, naming the field, as the IDX reader does', () => {
    const ok = { images: new Float32Array(2 * 4), labels: [0, 1], shape: [2, 2] as const }
    expect(() => fromArrays({ ...ok, images: new Float32Array(7) })).toThrow(/fromArrays: images.*has 7 values.*need 8/)
    expect(() => fromArrays({ ...ok, labels: [0, 1.5] })).toThrow(/fromArrays: labels\[1\].*integer/)
    expect(() => fromArrays({ ...ok, labels: [0, 3], classes: 3 })).toThrow(/fromArrays: labels\[1\].*not below classes = 3/)
    expect(() => fromArrays({ ...ok, shape: [2, 0] as never })).toThrow(/fromArrays: shape/)
    expect(() => fromArrays({ ...ok, images: Float32Array.of(0, 0, 0, NaN, 0, 0, 0, 0) })).toThrow(/fromArrays: images\[0\].*not finite/)
    expect(() => fromArrays({ ...ok, normalization: { mean: [0], std: [0] } })).toThrow(/fromArrays: normalization.std/)
    expect(() =>
      fromArrays({
        ...ok,
        images: [
          [0, 0, 0, 0],
          [0, 0],
        ],
      }),
    ).toThrow(/fromArrays: images\[1\].*has 2 values/)
  })
})

describe('train files with a model field', () => {
  it('decode and check on shapes; a bad model names its field', () => {
    const file = decodeTrainFile({ kind: 'supervised', model: { kind: 'resnet', depth: 20, width: 8, norm: 'groupNorm', weightNorm: 'weightAlign' } })
    if (file._tag === 'Left') throw file.left
    expect(file.right.config.model).toMatchObject({ kind: 'resnet', depth: 20 })
    const check = checkTrainFile(file.right, [32, 32, 3])
    expect(check.passes[0]!.shapes.logits).toEqual([64, 10])
    const bad = decodeTrainFile({ kind: 'semiSupervised', model: { kind: 'resnet', depth: 19 } })
    expect(bad._tag === 'Left' && bad.left.message).toMatch(/model\.depth.*6n \+ 2/)
    const typo = decodeTrainFile({ kind: 'selfSupervised', model: { kind: 'resnet', depht: 20 } })
    expect(typo._tag === 'Left' && typo.left.message).toMatch(/model\.depht.*did you mean 'depth'/)
    const kind = decodeTrainFile({ kind: 'supervised', model: { kind: 'vgg' } })
    expect(kind._tag === 'Left' && kind.left.message).toMatch(/model\.kind.*'convNet' or 'resnet'/)
    const spec = decodeModelSpec({ kind: 'resnet', depth: 20, norm: 'batchNrm' })
    expect(spec._tag === 'Left' && spec.left.message).toMatch(/norm.*not registered/)
  })
})

describeEachBackend(
  'every registered activation normalizer, alone and with WeightAlign or weight standardisation in front, trains a ResNet in every pipeline',
  (b) => {
    const run = itOn(b)
    for (const n of ['batchNorm', 'groupNorm', 'layerNorm', 'instanceNorm', 'eman', 'momentumBatchNorm']) {
      run(`${n}: FixMatch (an EMAN teacher where the student is BN), BYOL-EMAN, and supervised with none, weightAlign, weightStandardization`, async () => {
        const s = await runSemiSupervised(semi({ ...RESNET, norm: n } as ModelSpec), train, test)
        expect(s.final.step).toBe(3)
        expect(Number.isFinite(s.final.teacher!)).toBe(true)
        const byol = await runSelfSupervised(self({ ...RESNET, norm: n } as ModelSpec, 'byol-eman'), train, test)
        expect(Number.isFinite(byol.finalLoss)).toBe(true)
        for (const w of ['none', 'weightAlign', 'weightStandardization']) {
          const r = await runSupervised(supervised({ ...RESNET, norm: n, weightNorm: w } as ModelSpec), train, test)
          expect(r.steps, w).toBe(3)
          expect(Number.isFinite(r.finalLoss), w).toBe(true)
        }
      })
    }
  },
  ['cpu', 'wasm', 'webgpu'],
)

/** A backbone of the user's, written here against the module vocabulary (no polyak architecture). */
const userBackbone: Module = sequential({
  stem: sequential({ conv: conv(6, { kernel: 5, stride: 2 }), norm: norm(), relu: relu() }),
  block: residual({ conv1: conv(6), norm1: norm(), relu1: relu(), conv2: conv(6), norm2: norm() }, { after: relu() }),
  pool: globalAvgPool(),
})

describeEachBackend(
  'a ResNet and a backbone of the user in every pipeline',
  (b) => {
    const run = itOn(b)
    run('semi-supervised FixMatch with an EMAN teacher: the teacher is the EMAN twin of the BatchNorm ResNet', async () => {
      const config = semi(RESNET, { steps: 4 })
      const { model, teacherModel } = semiSupervisedSetup(config, [train.height, train.width, 3], 10)
      const norms = (m: typeof model) => m.layers().filter((l) => l.kind.startsWith('norm'))
      expect(norms(model).every((l) => l.kind === 'norm batchNorm')).toBe(true)
      expect(norms(teacherModel).map((l) => [l.path, l.kind === 'norm eman'])).toEqual(norms(model).map((l) => [l.path, true]))
      const r = await runSemiSupervised(config, train, test)
      expect(r.final.step).toBe(4)
      expect(r.final.teacher).toBeGreaterThanOrEqual(0)
    })
    run('self-supervised BYOL with Momentum² (momentum BN teacher) and SimCLR with projector-only momentum on a ResNet', async () => {
      for (const method of ['byol-m2', 'simclr-projector'] as const) {
        const r = await runSelfSupervised(self(RESNET, method), train, test)
        expect(Number.isFinite(r.finalLoss)).toBe(true)
        expect(r.knn).toBeGreaterThanOrEqual(0)
      }
    })
    run('supervised training of a ResNet on RGB lowers the loss', async () => {
      const setup = supervisedSetup({ ...supervised(RESNET), lr: 3e-3 }, [train.height, train.width, 3], 10)
      let state = initSupervised(setup)
      const x = tf.tensor4d(train.images.subarray(0, 16 * 14 * 14 * 3), [16, 14, 14, 3])
      const labels = tf.tensor1d(Array.from(train.labels.subarray(0, 16)), 'int32')
      const losses: number[] = []
      for (let step = 0; step < 12; step++) {
        const { next, loss } = supervisedStep(setup, state, { x, labels }, step)
        disposeAll(state)
        state = next
        losses.push((await loss.data())[0]!)
        loss.dispose()
      }
      disposeAll([state, x, labels])
      // one fixed batch, 12 Adam steps: a model that trains fits it
      expect(losses[11]!).toBeLessThan(losses[0]! * 0.8)
    })
    run('a backbone written in test code plugs into FixMatch and BYOL', async () => {
      const model: ModelSpec = { kind: 'module', backbone: userBackbone, name: 'userNet' }
      const s = await runSemiSupervised(semi(model), train, test)
      expect(s.final.step).toBe(3)
      const r = await runSelfSupervised(self(model, 'byol-eman'), train, test)
      expect(Number.isFinite(r.finalLoss)).toBe(true)
    })
  },
  ['cpu', 'wasm', 'webgpu'],
)

describe('resuming a ResNet run (wasm)', () => {
  beforeAll(async () => {
    const { unsafeUseBackend } = await import('polyak/backends')
    await unsafeUseBackend('wasm')
  })
  it('ends bitwise where the uninterrupted run ends; the checkpoint carries the model, and another model is refused', async () => {
    const config = semi(RESNET, { steps: 6 })
    const whole = memoryStore('whole')
    await runSemiSupervised(config, train, test, undefined, { checkpoint: { store: whole, every: 100 } })
    const part = memoryStore('part')
    await runSemiSupervised(config, train, test, undefined, { checkpoint: { store: part, every: 100 }, stopAfter: 3 })
    const resumed = memoryStore('resumed')
    await runSemiSupervised(config, train, test, undefined, { resumeFrom: part, checkpoint: { store: resumed, every: 100 } })
    const body = (text: string) => {
      const j = JSON.parse(text) as { student: unknown; teacher: unknown; opt: unknown; step: number; identity?: unknown }
      return { student: j.student, teacher: j.teacher, opt: j.opt, step: j.step }
    }
    expect(body(resumed.text!)).toEqual(body(whole.text!))
    expect(body(whole.text!).step).toBe(6)
    expect(whole.text!).toContain('layer3/0/shortcut/conv')
    await expect(runSemiSupervised(semi({ ...RESNET, width: 8 }, { steps: 6 }), train, test, undefined, { resumeFrom: part })).rejects.toThrow(/model/)
  })
})
