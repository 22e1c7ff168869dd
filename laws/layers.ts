/**
 * Teacher laws for adapters of TensorFlow.js Layers models (`polyak/layers`, or one of your own):
 * the per-leaf policy law of `teacherUpdate` (docs/methods.md, E11), stated over the model's own
 * weights rather than over trees, so an adapter that leaves a weight out of its trees (the
 * BatchNormalization moving statistics, say) is caught.
 *
 * Run it with `tfOps` (the models' weights are tfjs tensors). The ground truth does not come from the adapter: every weight of the model (`layer.weights`,
 * nested models included) is a statistic when its name ends in `moving_mean` or `moving_variance`,
 * a parameter otherwise.
 *
 * @module laws/layers
 */
import fc from 'fast-check'
import { FLOAT32_UNIT_ROUNDOFF } from '../src/core/tolerance.js'
import type { LayerLike, LayerVariableLike } from '../src/layers/index.js'
import { rng } from '../src/nn/random.js'
import { openDecayArb } from './arbitraries.js'
import type { Law } from './law.js'
import type { Leaf } from '../src/core/tree.js'
import type { Ops } from '../src/core/ops.js'

/** A subject of the layers-teacher laws: a student and a teacher model built alike, and the adapter's update of the teacher. */
export interface LayersTeacherSubject {
  readonly student: LayerLike
  readonly teacher: LayerLike
  /** One teacher update at `decay`: `'eman'` averages every float weight, `'weightsOnly'` the parameters only (statistics kept). */
  readonly update: (decay: number, policy: 'eman' | 'weightsOnly') => void
}

/** Every weight of a model by path `layer/weight` (nested models add their name), the model's own name left out. */
const allWeights = (model: LayerLike): Array<{ readonly name: string; readonly variable: LayerVariableLike }> => {
  const walk = (layer: LayerLike, prefix: string): Array<{ readonly name: string; readonly variable: LayerVariableLike }> =>
    Array.isArray(layer.layers)
      ? layer.layers.flatMap((l) => walk(l, `${prefix}${layer.name}/`))
      : layer.weights.map((v) => ({ name: `${prefix}${layer.name}/${v.originalName.split('/').pop()}`, variable: v }))
  return (model.layers ?? []).flatMap((l) => walk(l, ''))
}

const isStatistic = (name: string): boolean => /moving_(mean|variance)$/.test(name)

/** Random values into every float weight (positive ones for variances), from a seed. */
const randomize = (ops: Ops<Leaf>, model: LayerLike, seed: number): void => {
  const r = rng(seed)
  for (const { name, variable } of allWeights(model)) {
    if (variable.dtype !== 'float32') continue
    const shape = variable.shape as number[]
    const n = shape.reduce((a, b) => a * b, 1)
    const data = Float32Array.from({ length: n }, () => (name.endsWith('variance') ? 0.1 + 2 * r.next() : 4 * r.next() - 2))
    const t = ops.tensor(data, shape)
    variable.write(t as never)
    ops.dispose(t)
  }
}

const read = async (model: LayerLike): Promise<Map<string, Float32Array>> => {
  const out = new Map<string, Float32Array>()
  for (const { name, variable } of allWeights(model)) out.set(name, (await variable.read().data()) as Float32Array)
  return out
}

/**
 * `layers.teacherPolicy`: after one update at decay `d`, every teacher parameter is
 * `d·t + (1 − d)·s` of its values before; every moving statistic too under `'eman'`, and exactly
 * the teacher's own under `'weightsOnly'`; the student is untouched. Tolerance: one rounding of
 * each product and of the sum, `3·u·(|d·t| + |(1 − d)·s|)` plus the backend's `atol`.
 */
export const layersTeacherPolicy: Law<LayersTeacherSubject, readonly [number, number, number, 'eman' | 'weightsOnly']> = {
  name: 'layers.teacherPolicy',
  statement:
    "after an update every teacher parameter is d·t + (1−d)·s; every BatchNormalization moving statistic too under 'eman', and the teacher's own under 'weightsOnly'; the student is unchanged",
  arbitrary: () => fc.tuple(fc.nat(), fc.nat(), openDecayArb, fc.constantFrom('eman' as const, 'weightsOnly' as const)),
  predicate:
    (subject, { ops, tolerance }) =>
    async ([seedS, seedT, d, policy]) => {
      randomize(ops, subject.student, seedS)
      randomize(ops, subject.teacher, seedT)
      const s = await read(subject.student)
      const t = await read(subject.teacher)
      subject.update(d, policy)
      const after = await read(subject.teacher)
      const studentAfter = await read(subject.student)
      for (const [name, sv] of s) {
        const tv = t.get(name)
        const got = after.get(name)
        if (tv === undefined || got === undefined) throw new Error(`the teacher has no weight '${name}'`)
        const averaged = !isStatistic(name) || policy === 'eman'
        for (let i = 0; i < sv.length; i++) {
          if (studentAfter.get(name)![i] !== sv[i]) throw new Error(`the update changed the student's '${name}'[${i}]`)
          if (!averaged) {
            if (got[i] !== tv[i]) throw new Error(`'${name}'[${i}] is a statistic kept under '${policy}': want ${tv[i]}, got ${got[i]}`)
            continue
          }
          const want = d * tv[i]! + (1 - d) * sv[i]!
          const bound = tolerance.atol + 3 * FLOAT32_UNIT_ROUNDOFF * (Math.abs(d * tv[i]!) + Math.abs((1 - d) * sv[i]!)) + tolerance.rtol * Math.abs(want)
          if (!(Math.abs(got[i]! - want) <= bound))
            throw new Error(`'${name}'[${i}]: want d·t + (1−d)·s = ${want}, got ${got[i]} (teacher ${tv[i]}, student ${sv[i]}, d = ${d})`)
        }
      }
      return true
    },
}

/** The layers-teacher laws. */
export const layersTeacherLaws = [layersTeacherPolicy] as const
