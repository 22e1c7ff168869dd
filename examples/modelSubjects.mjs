// Subjects for `polyak laws --subject examples/modelSubjects.mjs`: a model built from a backbone of
// your own, a teacher for a tfjs-layers model (polyak/layers), and a decay schedule of your own,
// each under the names the laws know (model, layersTeacher, schedule).
import * as tfl from '@tensorflow/tfjs-layers'
import { conv, emanPolicy, globalAvgPool, network, norm, relu, residual, sequential, tfOps, unsafeTeacherUpdate, weightsOnly } from 'polyak'
import { layersTeacherOf } from 'polyak/layers'

/** A residual backbone of your own with a classifier: the whole-model laws run on it. */
export const model = {
  model: network({
    inputShape: [6, 6, 2],
    backbone: sequential({
      stem: sequential({ conv: conv(4), norm: norm(), relu: relu() }),
      block: residual({ conv1: conv(4), norm1: norm(), relu1: relu(), conv2: conv(4), norm2: norm() }, { after: relu() }),
      pool: globalAvgPool(),
    }),
    norm: 'batchNorm',
    classes: 3,
  }),
}

const build = () => {
  const input = tfl.input({ shape: [6, 6, 2] })
  const h = tfl.layers
    .flatten()
    .apply(tfl.layers.batchNormalization({ name: 'bn' }).apply(tfl.layers.conv2d({ filters: 3, kernelSize: 3, name: 'conv' }).apply(input)))
  return tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2, name: 'head' }).apply(h) })
}
const student = build()
const teacher = build()

/** polyak's adapter over a tfjs-layers student and teacher. */
export const layersTeacher = {
  student,
  teacher,
  update: (decay, policy) =>
    layersTeacherOf(student, teacher, unsafeTeacherUpdate(tfOps, { decay, policy: policy === 'eman' ? emanPolicy : weightsOnly })).update(),
}

/** A linear warm-up of the teacher decay from 0.9 to 0.999 over 100 steps, then flat. */
export const schedule = {
  at: (k) => 0.9 + (0.099 * Math.min(k, 100)) / 100,
  firstStep: 0,
  start: 0.9,
  horizon: 100,
  end: 0.999,
  clamps: true,
  monotone: 'increasing',
  closedForm: (k) => 0.9 + (0.099 * Math.min(k, 100)) / 100,
}
