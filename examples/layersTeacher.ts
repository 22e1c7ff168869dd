/**
 * README example: an EMAN teacher for a tfjs-layers model, kept by a `fit` callback.
 */
import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import { unsafeUseBackend } from 'polyak/backends'
import { layersTeacher } from 'polyak/layers'

export const main = async (backend = 'cpu') => {
  await unsafeUseBackend(backend)
  const input = tfl.input({ shape: [8, 8, 1] })
  const h = tfl.layers.flatten().apply(tfl.layers.batchNormalization().apply(tfl.layers.conv2d({ filters: 4, kernelSize: 3 }).apply(input)))
  const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 3, activation: 'softmax' }).apply(h) as tfl.SymbolicTensor })
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' })
  const xs = tf.randomNormal([32, 8, 8, 1], 0, 1, 'float32', 1)
  const ys = tf.tensor1d(
    Array.from({ length: 32 }, (_, i) => i % 3),
    'float32',
  )

  // --- the README example: 4 lines ---
  const teacher = await layersTeacher(model, { decay: 0.9, policy: 'eman' })
  await model.fit(xs, ys, { epochs: 2, batchSize: 8, callbacks: [teacher.callback()], verbose: 0 })
  const predictions = teacher.model.predict(xs) as tf.Tensor // inference mode: BN with the averaged statistics
  // ---

  const bn = teacher.model.layers.find((l) => l.getClassName() === 'BatchNormalization')!
  const movingMean = Array.from(
    await bn.weights
      .find((w) => w.originalName.endsWith('moving_mean'))!
      .read()
      .data(),
  )
  const out = { updates: teacher.steps(), movingMean, predictions: predictions.shape }
  tf.dispose([xs, ys, predictions])
  return out
}
