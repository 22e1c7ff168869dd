/**
 * Whole-model laws (docs/methods.md, "Modules and models", D1–D6): the classic failures of a
 * network happen between layers — a branch that bypasses its normalizer, a teacher that skips one
 * block's statistics, eval mode that still uses batch statistics deep inside — and no law on one
 * layer sees them. These laws take a whole `Model` (polyak's, or one built with `network` from a
 * backbone of the user's) and look at every layer through its outputs and its trees.
 *
 * The model computes on TensorFlow.js (the active backend); `referenceOps` and `shapeOps` are the
 * oracles. Tolerances are the backend's (`core/tolerance`), scaled by the number of layers: each
 * layer's rounding is amplified by the layers after it.
 *
 * @module laws/models
 */
import fc from 'fast-check'
import * as tf from '@tensorflow/tfjs-core'
import { FLOAT32_UNIT_ROUNDOFF } from '../src/core/tolerance.js'
import { placeholder, shapeOps } from '../src/core/shapeOps.js'
import { referenceOps } from '../src/core/referenceOps.js'
import { tfOps } from '../src/core/tfOps.js'
import { type TreeRecord, fromLeaves, leaves } from '../src/core/tree.js'
import { type TeacherPolicy, emanPolicy, projectorOnly, unsafeTeacherUpdate, weightsOnly } from '../src/ema/teacher.js'
import { underPrefix } from '../src/core/tree.js'
import type { ForwardOutput, HeadName, Model } from '../src/nn/model.js'
import { rng } from '../src/nn/random.js'
import { registerGradients } from '../src/nn/gradients.js'
import type { Mode } from '../src/norm/normalizer.js'
import type { Law, LawTolerance } from './law.js'
import type { TeacherUpdateSubject } from './teacher.js'

/** A whole model under the laws, and optionally the teacher update to check over its trees. */
export interface ModelSubject {
  readonly model: Model
  /** Smallest and largest batch to draw (default `[2, 4]`). */
  readonly batch?: readonly [number, number]
  /** The teacher update the teacher law checks over the model's trees (default: polyak's `teacherUpdate`). */
  readonly teacherUpdate?: TeacherUpdateSubject
}

type Trees = { params: TreeRecord<tf.Tensor>; stats: TreeRecord<tf.Tensor> }
const OUTPUTS = ['features', 'logits', 'projection', 'prediction'] as const

const batchArb = (s: ModelSubject): fc.Arbitrary<number> => fc.integer({ min: s.batch?.[0] ?? 2, max: s.batch?.[1] ?? 4 })
const batchAndModeArb = (s: ModelSubject): fc.Arbitrary<readonly [number, Mode]> => fc.tuple(batchArb(s), fc.constantFrom('train' as const, 'eval' as const))

/** Images of the model's input shape, uniform in [−1, 1], from a seed. */
const images = (model: Model, batch: number, seed: number): tf.Tensor4D => {
  const r = rng(seed)
  const n = batch * model.inputShape.reduce((a, b) => a * b, 1)
  return tf.tensor4d(
    Float32Array.from({ length: n }, () => 2 * r.next() - 1),
    [batch, ...model.inputShape],
  )
}

/** Statistics that differ from their initial values: one train-mode pass on images of `seed`. */
const warmed = (model: Model, seed: number): Trees => {
  const init = model.init(seed)
  const next = tfOps.tidy(() => model.forward(init.params, init.stats, images(model, 4, seed + 1), 'train', { step: 0 }).stats)
  tf.dispose(init.stats as never)
  return { params: init.params, stats: next }
}

const dispose = (x: unknown): void => tf.dispose(x as tf.TensorContainer)

/** The bound of a whole forward pass: `L·(atol + (rtol + 64·u)·(|want| + 1))` for `L` layers. */
const wholeBound = (model: Model, tol: LawTolerance) => {
  const layers = model.layers().length
  return (want: number): number => layers * (tol.atol + (tol.rtol + 64 * FLOAT32_UNIT_ROUNDOFF) * (Math.abs(want) + 1))
}

const compare = (what: string, got: ArrayLike<number>, want: ArrayLike<number>, bound: (w: number) => number): void => {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} values, want ${want.length}`)
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= bound(want[i]!)))
      throw new Error(`${what}[${i}]: got ${got[i]}, want ${want[i]} (|Δ| ${Math.abs(got[i]! - want[i]!)})`)
  }
}

/** D1 `model.shapes`: the shape interpreter predicts the real pass — every output's shape, every statistic's path and shape. */
export const modelShapes: Law<ModelSubject, readonly [number, Mode]> = {
  name: 'model.shapes',
  statement:
    'on shapeOps the model gives the shapes of every output and the paths and shapes of every new statistic that the real pass gives, in both modes; the returned statistics cover every path of the given ones',
  arbitrary: batchAndModeArb,
  predicate:
    (s) =>
    async ([batch, mode]) => {
      const { model } = s
      const onShapes = model.on(shapeOps)
      const init = onShapes.init(0)
      const predicted = onShapes.forward(init.params, init.stats, placeholder([batch, ...model.inputShape]), mode, { step: 0 })
      const real = model.init(0)
      const out = tf.tidy(() => model.forward(real.params, real.stats, images(model, batch, 1), mode, { step: 0 }) as never) as ForwardOutput
      try {
        for (const k of OUTPUTS) {
          const [p, r] = [predicted[k]?.shape, out[k]?.shape]
          if (JSON.stringify(p) !== JSON.stringify(r)) throw new Error(`${k}: shapes predict ${JSON.stringify(p)}, the real pass gives ${JSON.stringify(r)}`)
        }
        const shapesOf = (t: TreeRecord<{ shape: readonly number[] }>) => leaves(t).map(([p, v]) => `${p} ${JSON.stringify(v.shape)}`)
        const [p, r] = [shapesOf(predicted.stats), shapesOf(out.stats)]
        if (JSON.stringify(p) !== JSON.stringify(r)) throw new Error(`statistics: shapes predict ${p.join('; ')}, the real pass gives ${r.join('; ')}`)
        // the returned state carries every statistic it was given: a block whose statistics are dropped would reset them next step
        const given = shapesOf(real.stats)
        const lost = given.filter((g) => !r.includes(g))
        if (lost.length > 0) throw new Error(`statistics: the ${mode}-mode pass returns no ${lost.join('; ')} (given in its state)`)
        return true
      } finally {
        dispose([real, out])
      }
    },
}

/** D2 `model.reference`: the backend's forward pass agrees with the Float64 one on the same parameters (eval mode: the oracle's well-conditioned regime). */
export const modelReference: Law<ModelSubject, readonly [number, number]> = {
  name: 'model.reference',
  statement:
    'in eval mode every output equals the referenceOps forward pass of the same parameters within L·(atol + (rtol + 64u)(|want| + 1)), L the number of layers',
  arbitrary: (s) => fc.tuple(batchArb(s), fc.nat()),
  predicate:
    (s, { tolerance }) =>
    async ([batch, seed]) => {
      const { model } = s
      const state = warmed(model, seed)
      const x = images(model, batch, seed + 7)
      const out = tf.tidy(() => model.forward(state.params, state.stats, x, 'eval') as never) as ForwardOutput
      try {
        const toRef = async (t: TreeRecord<tf.Tensor>): Promise<TreeRecord<never>> => {
          const r: TreeRecord<never> = {}
          for (const [k, v] of Object.entries(t))
            r[k] = (
              v instanceof tf.Tensor ? referenceOps.tensor(await v.data(), v.shape, v.dtype as 'float32') : await toRef(v as TreeRecord<tf.Tensor>)
            ) as never
          return r
        }
        const xData = await x.data()
        const rp = await toRef(state.params)
        const rs = await toRef(state.stats)
        const want = referenceOps.tidy(() => model.on(referenceOps).forward(rp, rs, referenceOps.tensor(xData, x.shape), 'eval'))
        const bound = wholeBound(model, tolerance)
        for (const k of OUTPUTS) if (out[k] !== undefined) compare(k, await out[k]!.data(), referenceOps.readSync(want[k]!), bound)
        return true
      } finally {
        dispose([state, out, x])
      }
    },
}

/** Output `k` of the first sample, in a batch with `x`'s other samples and in one where they are replaced by `others`. */
const firstSample = async (
  model: Model,
  state: Trees,
  x: tf.Tensor4D,
  others: tf.Tensor4D,
  mode: Mode,
  k: (typeof OUTPUTS)[number],
): Promise<[Float32Array, Float32Array]> => {
  const run = async (batch: tf.Tensor4D): Promise<Float32Array> => {
    const y = tf.tidy(() => {
      const out = (model.forward(state.params, state.stats, batch, mode, { step: 1 }) as never as ForwardOutput)[k]!
      return tf.slice(out, [0, 0], [1, -1])
    })
    const data = (await y.data()) as Float32Array
    y.dispose()
    return data
  }
  const swapped = tf.concat([tf.slice(x, [0, 0, 0, 0], [1, -1, -1, -1]), tf.slice(others, [1, 0, 0, 0], [-1, -1, -1, -1])], 0) as tf.Tensor4D
  try {
    return [await run(x), await run(swapped)]
  } finally {
    swapped.dispose()
  }
}

/**
 * D3 `model.batchIndependence` (in `mode`): a sample's outputs do not depend on the other samples of
 * its batch: replacing them leaves its outputs unchanged. Eval mode: every polyak normalizer is
 * per-sample there (BatchNorm and EMAN use their running statistics). Train mode: false wherever
 * BatchNorm normalises with the batch's statistics (the catalogue expects this law to fail there).
 */
export const modelBatchIndependence = (mode: Mode): Law<ModelSubject, readonly [number, number]> => ({
  name: `model.batchIndependence.${mode}`,
  statement: `in ${mode} mode the first sample's outputs are the same whatever the other samples of its batch (within the whole-model bound)`,
  arbitrary: (s) => fc.tuple(batchArb(s), fc.nat()),
  predicate:
    (s, { tolerance }) =>
    async ([batch, seed]) => {
      const { model } = s
      const state = warmed(model, seed)
      const x = images(model, Math.max(2, batch), seed + 3)
      const others = images(model, Math.max(2, batch), seed + 4)
      try {
        const bound = wholeBound(model, tolerance)
        for (const k of OUTPUTS) {
          if (k !== 'features' && model.layers().every((r) => !r.path.startsWith(headOf(k)))) continue
          const [a, b] = await firstSample(model, state, x, others, mode, k)
          compare(`${k} of the first sample`, b, a, bound)
        }
        return true
      } finally {
        dispose([state, x, others])
      }
    },
})

const headOf = (k: (typeof OUTPUTS)[number]): HeadName =>
  k === 'logits' ? 'classifier' : k === 'projection' ? 'projector' : k === 'prediction' ? 'predictor' : ('' as HeadName)

/**
 * D4 `model.paramsReachOutput`: every parameter leaf reaches an output: for a random input and a
 * random readout `r`, the gradient of `Σ r·y` (train mode, every head) is non-zero somewhere in
 * every leaf. A layer whose parameters exist but that the forward pass skips (a shortcut that
 * bypasses its normalizer) has a zero gradient.
 */
export const modelParamsReachOutput: Law<ModelSubject, number> = {
  name: 'model.paramsReachOutput',
  statement:
    'for a random input and readout r, ∂(Σ r·outputs)/∂p is non-zero in some element of every parameter leaf p (train mode, every head), at one of three random initialisations',
  arbitrary: () => fc.nat(),
  predicate: (s) => async (seed) => {
    registerGradients()
    const { model } = s
    // A leaf the pass skips has a zero gradient at every initialisation; one behind a layer of ReLUs that are
    // all off for this draw (a head whose normaliser does not centre, as EMAN's running statistics) has it at
    // this one only. So a leaf fails only when no gradient reaches it at three initialisations.
    let dead: string[] | undefined
    for (let attempt = 0; attempt < 3 && (dead === undefined || dead.length > 0); attempt++) {
      const at = seed + 1009 * attempt
      const state = warmed(model, at)
      const x = images(model, 8, at + 5)
      const paths = leaves(state.params).map(([p]) => p)
      const grads = tf.tidy(() => {
        const flat = leaves<tf.Tensor>(state.params).map(([, t]) => t)
        const f = (...ts: tf.Tensor[]) => {
          const out = model.forward(fromLeaves(state.params, ts) as TreeRecord<tf.Tensor>, state.stats, x, 'train', { step: 0 })
          const r = rng(at + 11)
          // 0·Σp ties every leaf to the loss: a leaf the pass does not use gets a zero gradient, not an error
          const tie = ts.reduce((acc: tf.Scalar, t) => tf.add(acc, tf.mul(tf.sum(t), 0)) as tf.Scalar, tf.scalar(0))
          return OUTPUTS.reduce((acc: tf.Scalar, k) => {
            const y = out[k]
            if (y === undefined) return acc
            const w = tf.tensor(
              Float32Array.from({ length: y.size }, () => 2 * r.next() - 1),
              y.shape,
            )
            return tf.add(acc, tf.sum(tf.mul(y, w))) as tf.Scalar
          }, tie)
        }
        return tf
          .grads(f)(flat)
          .map((g) => tf.max(tf.abs(g)))
      })
      try {
        const peaks = await Promise.all(grads.map(async (g) => (await g.data())[0]!))
        const here = paths.filter((_, i) => !(peaks[i]! > 0))
        dead = dead === undefined ? here : dead.filter((p) => here.includes(p))
      } finally {
        dispose([state, x, grads])
      }
    }
    if (dead !== undefined && dead.length > 0)
      throw new Error(`no gradient reaches ${dead.join(', ')}: the forward pass does not use ${dead.length === 1 ? 'this parameter' : 'these parameters'}`)
    return true
  },
}

const POLICIES: ReadonlyArray<readonly [string, TeacherPolicy]> = [
  ['eman', emanPolicy],
  ['weightsOnly', weightsOnly],
  ['projectorOnly', projectorOnly(underPrefix('projector'))],
]

/**
 * D5 `model.teacherPolicy`: a teacher update over the whole model's trees treats every leaf by its
 * policy — `d·t + (1 − d)·s` for `ema`, the teacher's for `keep`, the student's for `copy`, integer
 * counters copied — shortcut, head and deep-block leaves included. Both states have trained
 * statistics (one train-mode pass each), so a skipped statistic shows.
 */
export const modelTeacherPolicy: Law<ModelSubject, readonly [number, number, number]> = {
  name: 'model.teacherPolicy',
  statement:
    "over the model's whole trees every leaf is d·t + (1−d)·s ('ema'), t ('keep') or s ('copy', and integer counters), under EMAN, weights-only and projector-only",
  arbitrary: () => fc.tuple(fc.nat(), fc.integer({ min: 0, max: POLICIES.length - 1 }), fc.double({ min: 0.05, max: 0.95, noNaN: true })),
  predicate:
    (s, { ops, tolerance }) =>
    async ([seed, p, d]) => {
      const { model } = s
      const [name, policy] = POLICIES[p]!
      const student = warmed(model, seed)
      const teacher = warmed(model, seed + 1000)
      const update: TeacherUpdateSubject = s.teacherUpdate ?? ((o, st, te, decay, pol) => unsafeTeacherUpdate(o, { decay, policy: pol })(st)(te)[1])
      const next = tf.tidy(() => update(ops as never, student, teacher, d, policy) as never) as Trees
      try {
        for (const slot of ['params', 'stats'] as const) {
          const want = new Map(leaves<tf.Tensor>(teacher[slot]))
          const got = new Map(leaves<tf.Tensor>(next[slot] ?? {}))
          for (const [path, sv] of leaves<tf.Tensor>(student[slot])) {
            const tv = want.get(path)!
            const gv = got.get(path)
            if (gv === undefined) throw new Error(`${name}: the updated teacher has no ${slot} leaf '${path}'`)
            const [sd, td, gd] = [await sv.data(), await tv.data(), await gv.data()]
            const mode = sv.dtype === 'int32' ? 'copy' : policy(slot, path)
            for (let i = 0; i < sd.length; i++) {
              const w = mode === 'ema' ? d * td[i]! + (1 - d) * sd[i]! : mode === 'keep' ? td[i]! : sd[i]!
              const b = mode === 'ema' ? tolerance.atol + 3 * FLOAT32_UNIT_ROUNDOFF * (Math.abs(d * td[i]!) + Math.abs((1 - d) * sd[i]!)) : 0
              if (!(Math.abs(gd[i]! - w) <= b)) throw new Error(`${name}: ${slot} '${path}'[${i}] should be ${mode} (${w}), got ${gd[i]}`)
            }
          }
        }
        return true
      } finally {
        dispose([student, teacher, next])
      }
    },
}

/**
 * D6 `model.noLeak`: a forward pass in a scope and a whole training step (gradients and an SGD
 * update, the old state disposed) leave the live-tensor count as it was, and neither disposes nor
 * changes its inputs.
 */
export const modelNoLeak: Law<ModelSubject, readonly [number, Mode]> = {
  name: 'model.noLeak',
  statement: 'a scoped forward pass and a training step (old state disposed) leave tf.memory().numTensors unchanged and the inputs untouched',
  arbitrary: batchAndModeArb,
  predicate:
    (s) =>
    async ([batch, mode]) => {
      registerGradients()
      const { model } = s
      let state: Trees = model.init(3)
      const x = images(model, batch, 9)
      try {
        const before = tf.memory().numTensors
        const snapshot = await Promise.all(leaves<tf.Tensor>(state.params).map(async ([, t]) => Array.from(await t.data())))
        tf.tidy(() => {
          model.forward(state.params, state.stats, x, mode, { step: 0 })
        })
        if (tf.memory().numTensors !== before) throw new Error(`a scoped ${mode}-mode forward pass left ${tf.memory().numTensors - before} tensors`)
        const after = await Promise.all(leaves<tf.Tensor>(state.params).map(async ([, t]) => (t.isDisposed ? null : Array.from(await t.data()))))
        if (JSON.stringify(after) !== JSON.stringify(snapshot)) throw new Error('the forward pass disposed or changed a parameter')
        for (let step = 0; step < 2; step++) {
          const next = tf.tidy(() => {
            const flat = leaves<tf.Tensor>(state.params).map(([, t]) => t)
            let stats: TreeRecord<tf.Tensor> = {}
            const { grads } = tf.valueAndGrads((...ts: tf.Tensor[]) => {
              const out = model.forward(fromLeaves(state.params, ts) as TreeRecord<tf.Tensor>, state.stats, x, 'train', { step })
              stats = out.stats
              for (const l of leaves<tf.Tensor>(stats)) tf.keep(l[1])
              return OUTPUTS.reduce((acc: tf.Scalar, k) => (out[k] === undefined ? acc : (tf.add(acc, tf.mean(tf.square(out[k]!))) as tf.Scalar)), tf.scalar(0))
            })(flat)
            const stepped = flat.map((p, i) => tf.sub(p, tf.mul(grads[i]!, 0.01)))
            return { params: fromLeaves(state.params, stepped), stats } as never
          }) as Trees
          dispose(state)
          state = next
          const count = tf.memory().numTensors
          if (step === 0) continue
          if (count !== before) throw new Error(`after ${step + 1} training steps ${count - before} more tensors are live than after one`)
        }
        return true
      } finally {
        dispose([state, x])
      }
    },
}

/** The whole-model laws, as the catalogue runs them (eval-mode batch independence; the train-mode law separately, where BN makes it fail). */
export const modelLaws = [modelShapes, modelReference, modelBatchIndependence('eval'), modelParamsReachOutput, modelTeacherPolicy, modelNoLeak] as const
