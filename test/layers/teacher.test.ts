/**
 * A teacher for any tfjs-layers model: the weights and BatchNormalization moving statistics of a
 * functional model are polyak's trees; EMAN, EMA and projector-only policies run on them and are
 * written into a teacher model; `fit` keeps the teacher with one callback; the update equals
 * `teacherUpdate` on the same trees (bitwise on cpu); the layers-teacher law passes, and catches an
 * adapter that forgets the moving statistics.
 */
import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import { emanPolicy, initSupervised, registerGradients, supervisedSetup, supervisedStep, tfOps, tree, unsafeTeacherUpdate, weightsOnly } from 'polyak'
import { unsafeUseBackend } from 'polyak/backends'
import { assertLaws, layersTeacherLaws, runLaws, type LayersTeacherSubject } from 'polyak/laws'
import { type LayersModelLike, cloneLayersModel, layersLeaves, layersTeacher, layersTeacherOf, layersTrees, writeLayersTrees } from 'polyak/layers'
import { beforeAll, describe, expect, it } from 'vitest'
import { main as layersExample } from '../../examples/layersTeacher.js'

/** input → conv → BN → ReLU → [projector: dense → BN → dense] → softmax: every kind of weight, two BN layers. */
const build = (): tfl.LayersModel => {
  const input = tfl.input({ shape: [6, 6, 2] })
  let h = tfl.layers.conv2d({ filters: 3, kernelSize: 3, name: 'conv' }).apply(input) as tfl.SymbolicTensor
  h = tfl.layers.batchNormalization({ name: 'bn' }).apply(h) as tfl.SymbolicTensor
  h = tfl.layers.activation({ activation: 'relu' }).apply(h) as tfl.SymbolicTensor
  h = tfl.layers.flatten().apply(h) as tfl.SymbolicTensor
  h = tfl.layers.dense({ units: 5, name: 'projector_fc1' }).apply(h) as tfl.SymbolicTensor
  h = tfl.layers.batchNormalization({ name: 'projector_bn' }).apply(h) as tfl.SymbolicTensor
  const out = tfl.layers.dense({ units: 3, activation: 'softmax', name: 'head' }).apply(h) as tfl.SymbolicTensor
  return tfl.model({ inputs: input, outputs: out })
}

type Trees = ReturnType<typeof layersTrees>
/** Both trees of a model with `f` applied to every leaf (new tensors). */
const mapTrees = (t: Trees, f: (x: tf.Tensor) => tf.Tensor): Trees =>
  tfOps.tidy(() => ({
    params: tree.mapAny(t.params, (x) => f(x as tf.Tensor)) as Trees['params'],
    stats: tree.mapAny(t.stats, (x) => f(x as tf.Tensor)) as Trees['stats'],
  }))

const snapshot = async (m: LayersModelLike): Promise<Record<string, number[]>> =>
  Object.fromEntries(await Promise.all(layersLeaves(m).map(async (l) => [l.path, Array.from(await l.variable.read().data())] as const)))

beforeAll(async () => {
  await unsafeUseBackend('cpu')
})

describe('tfjs-layers models as trees', () => {
  it('weights are params and BN moving statistics are stats, with paths layer/weight', () => {
    const { params, stats } = layersTrees(build())
    expect(tree.paths(params)).toEqual([
      'conv/kernel',
      'conv/bias',
      'bn/gamma',
      'bn/beta',
      'projector_fc1/kernel',
      'projector_fc1/bias',
      'projector_bn/gamma',
      'projector_bn/beta',
      'head/kernel',
      'head/bias',
    ])
    expect(tree.paths(stats)).toEqual(['bn/moving_mean', 'bn/moving_variance', 'projector_bn/moving_mean', 'projector_bn/moving_variance'])
  })

  it('writes trees back by path, and refuses trees that miss a weight or misfit its shape, writing nothing', async () => {
    const a = build()
    const b = await cloneLayersModel(a)
    const before = await snapshot(b)
    const trees = mapTrees(layersTrees(a), (x) => tf.add(x, 1))
    const { head: _, ...withoutHead } = trees.params
    expect(() => writeLayersTrees(b, { params: withoutHead, stats: trees.stats })).toThrow(/head\/kernel/)
    expect(await snapshot(b)).toEqual(before)
    writeLayersTrees(b, trees)
    const want = await snapshot(a)
    const got = await snapshot(b)
    for (const k of Object.keys(want)) got[k]!.forEach((v, i) => expect(v).toBeCloseTo(want[k]![i]! + 1, 5))
    tf.dispose(trees as never)
  })
})

describe('layersTeacher', () => {
  it('equals teacherUpdate on the same trees, bitwise on cpu, for EMAN and weights-only', async () => {
    for (const [policy, polyakPolicy] of [
      ['eman', emanPolicy],
      ['weightsOnly', weightsOnly],
    ] as const) {
      const student = build()
      const teacher = await layersTeacher(student, { decay: 0.7, policy })
      // move the student away from the teacher (the clone starts equal)
      const moved = mapTrees(layersTrees(student), (x) => tf.add(tf.mul(x, 1.5), 0.25))
      writeLayersTrees(student, moved)
      tf.dispose(moved as never)
      const want = tfOps.tidy(() => unsafeTeacherUpdate(tfOps, { decay: 0.7, policy: polyakPolicy })(layersTrees(student))(layersTrees(teacher.model))[1])
      teacher.update()
      const got = layersTrees(teacher.model)
      for (const slot of ['params', 'stats'] as const) {
        const w = tree.leaves(want[slot] as never) as Array<readonly [string, tf.Tensor]>
        const g = new Map(tree.leaves(got[slot]) as Array<readonly [string, tf.Tensor]>)
        expect(w.length).toBe(g.size)
        for (const [path, t] of w) expect(Array.from(await g.get(path)!.data()), `${policy} ${path}`).toEqual(Array.from(await t.data()))
      }
      tf.dispose(want as never)
    }
  })

  it('projector-only momentum by layer-name prefix averages the projector layers and copies the rest', async () => {
    const student = build()
    const teacher = await layersTeacher(student, { decay: 0.5, policy: 'projectorOnly', prefixes: ['projector_'] })
    const t0 = await snapshot(teacher.model)
    const moved = mapTrees(layersTrees(student), (x) => tf.add(x, 2))
    writeLayersTrees(student, moved)
    tf.dispose(moved as never)
    teacher.update()
    const s = await snapshot(student)
    const t = await snapshot(teacher.model)
    for (const path of Object.keys(s)) {
      const want = path.startsWith('projector_') ? t0[path]!.map((v, i) => 0.5 * v + 0.5 * s[path]![i]!) : s[path]!
      t[path]!.forEach((v, i) => expect(v, path).toBeCloseTo(want[i]!, 5))
    }
  })

  it('a model trained with fit gets an EMAN teacher from one callback (the README example)', async () => {
    const r = await layersExample('cpu')
    // 32 images in batches of 8, 2 epochs
    expect(r.updates).toBe(8)
    // the teacher's moving mean moved from its initial zeros toward the student's
    expect(r.movingMean.some((v) => v !== 0)).toBe(true)
    expect(r.predictions).toEqual([32, 3])
  })

  it('an update leaks no tensor and leaves the student untouched', async () => {
    const student = build()
    const teacher = await layersTeacher(student, { decay: 0.9, policy: 'eman' })
    teacher.update()
    const before = tf.memory().numTensors
    const s0 = await snapshot(student)
    for (let i = 0; i < 5; i++) teacher.update()
    expect(tf.memory().numTensors).toBe(before)
    expect(await snapshot(student)).toEqual(s0)
    expect(teacher.steps()).toBe(6)
  })

  it('refuses a teacher built differently, naming the weight', async () => {
    const student = build()
    const input = tfl.input({ shape: [6, 6, 2] })
    const other = tfl.model({
      inputs: input,
      outputs: tfl.layers.dense({ units: 3, name: 'head' }).apply(tfl.layers.flatten().apply(input)) as tfl.SymbolicTensor,
    })
    await expect(layersTeacher(student, { decay: 0.9, teacher: other })).rejects.toThrow(/has no weight 'conv\/kernel'/)
    await expect(layersTeacher(student, { decay: 2 })).rejects.toThrow(/decay/)
  })

  it('refuses a policy that cannot act on the student, naming the field and writing nothing', async () => {
    const student = build()
    const teacher = await cloneLayersModel(student)
    tfOps.tidy(() =>
      writeLayersTrees(
        teacher,
        mapTrees(layersTrees(teacher), (x) => tf.add(x, 1)),
      ),
    )
    const before = await snapshot(teacher)
    // EMAN by name on a model with no BatchNormalization layer
    const input = tfl.input({ shape: [4] })
    const plain = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2, name: 'fc' }).apply(input) as tfl.SymbolicTensor })
    await expect(layersTeacher(plain, { decay: 0.9, policy: 'eman' })).rejects.toThrow(
      /'layersTeacher: policy'.*'eman' averages BatchNormalization statistics.*'weightsOnly'/,
    )
    await expect(layersTeacher(plain, { decay: 0.9, policy: 'weightsOnly' })).resolves.toBeDefined()
    // projector-only prefixes that match no layer
    await expect(layersTeacher(student, { decay: 0.9, policy: 'projectorOnly', prefixes: ['predictor_'], teacher })).rejects.toThrow(
      /'layersTeacher: prefixes'.*\["predictor_"\] match no layer of the student \(its layers: conv, bn, projector_fc1/,
    )
    // a frozen student: the averaged weights never move
    student.trainable = false
    await expect(layersTeacher(student, { decay: 0.9, policy: 'eman', teacher })).rejects.toThrow(
      /'layersTeacher: student'.*every weight the policy averages is frozen/,
    )
    // frozen layers outside the averaged ones are fine: projector-only over a trainable projector
    student.trainable = true
    for (const l of student.layers) if (!l.name.startsWith('projector_')) l.trainable = false
    await expect(layersTeacher(student, { decay: 0.9, policy: 'projectorOnly', prefixes: ['projector_'], teacher })).resolves.toBeDefined()
    await expect(layersTeacher(student, { decay: 0.9, policy: 'projectorOnly', prefixes: ['conv'], teacher })).rejects.toThrow(/frozen/)
    expect(await snapshot(teacher)).toEqual(before)
  })
})

describe('the layers-teacher law', () => {
  const subject = async (forgetStatistics: boolean): Promise<LayersTeacherSubject> => {
    const student = build()
    const teacher = await cloneLayersModel(student)
    return {
      student,
      teacher,
      update: (decay, policy) => {
        const update = unsafeTeacherUpdate(tfOps, { decay, policy: policy === 'eman' ? emanPolicy : weightsOnly })
        if (!forgetStatistics) {
          layersTeacherOf(student, teacher, update).update()
          return
        }
        // a broken adapter: the moving statistics never enter the trees, so they are never averaged
        const next = tfOps.tidy(() => update({ params: layersTrees(student).params, stats: {} })({ params: layersTrees(teacher).params, stats: {} })[1])
        for (const l of layersLeaves(teacher))
          if (l.slot === 'params') l.variable.write(tree.leaves(next.params as never).find(([p]) => p === l.path)![1] as tf.Tensor)
      },
    }
  }

  it("holds for polyak's adapter", async () => {
    await assertLaws('layersTeacher', await subject(false), layersTeacherLaws, tfOps as never, { numRuns: 30 })
  })

  it('catches an adapter that forgets the moving statistics', async () => {
    const results = await runLaws('forgetful', await subject(true), layersTeacherLaws, tfOps as never, { numRuns: 30 })
    expect(results[0]).toMatchObject({ law: 'layers.teacherPolicy', passed: false })
    expect(results[0]!.error).toMatch(/moving_(mean|variance)/)
  })
})

describe('with tfjs-layers loaded (it registers tfjs gradients that need kernels wasm lacks)', () => {
  it("polyak's conv nets still train on wasm (polyak's Conv2D gradient replaces tfjs's, which needs Conv2DBackpropFilter)", async () => {
    await unsafeUseBackend('wasm')
    // tfjs-layers registered tfjs's Conv2D gradient when it loaded
    expect(tf.getGradient('Conv2D')).toBeDefined()
    registerGradients()
    const xs = tf.randomNormal([8, 6, 6, 2], 0, 1, 'float32', 3)
    const setup = supervisedSetup(
      { norm: 'batchNorm', weightNorm: 'none', batchSize: 8, samples: 8, lr: 1e-3, widths: [3], seed: 0, evalLimit: 8 },
      [6, 6, 2],
      3,
    )
    const state = initSupervised(setup)
    const { next, loss } = supervisedStep(setup, state, { x: xs as tf.Tensor4D, labels: tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32') }, 0)
    expect(Number.isFinite((await loss.data())[0]!)).toBe(true)
    tf.dispose([state as never, next as never, loss, xs])
  })
})
