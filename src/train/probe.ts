/**
 * The linear probe of self-supervised evaluation.
 *
 * @module train/probe
 */
import * as tf from '@tensorflow/tfjs-core'
import type { TreeRecord } from '../core/tree.js'
import { tfOps } from '../core/tfOps.js'
import { adam } from '../optim/optimizers.js'
import { disposeAll, valueAndGrads } from './common.js'
import { crossEntropy } from './losses.js'

/**
 * Linear probe: a softmax classifier `softmax(x̂·W + b)` on frozen features `x̂` (standardised with
 * the training features' mean and variance), trained with polyak's `adam` (lr 0.05) on the full
 * training set for `steps` steps; returns its test accuracy. Labels are `0 … classes − 1`.
 */
export const linearProbe = async (
  trainF: Float32Array,
  trainY: ArrayLike<number>,
  testF: Float32Array,
  testY: ArrayLike<number>,
  dim: number,
  steps = 300,
  classes = 10,
): Promise<number> => {
  const predT = tf.tidy(() => {
    const xtr = tf.tensor2d(trainF, [trainF.length / dim, dim])
    const { mean, variance } = tf.moments(xtr, 0)
    const norm = (x: tf.Tensor2D) => tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-6))) as tf.Tensor2D
    const x = norm(xtr)
    const y = tf.tensor1d(Array.from(trainY), 'int32')
    const opt = adam({ lr: 0.05 })
    let params: TreeRecord<tf.Tensor> = { w: tf.zeros([dim, classes]), b: tf.zeros([classes]) }
    let state = opt.init(params)
    for (let t = 0; t < steps; t++) {
      const next = tfOps.tidy(() => {
        const { loss, grads, stats } = valueAndGrads(params, (p) => ({
          loss: crossEntropy(tf.add(tf.matMul(x, p.w as tf.Tensor2D), p.b as tf.Tensor) as tf.Tensor2D, y),
          stats: {},
        }))
        disposeAll([loss, stats])
        return opt.update(grads, params, state, t)
      })
      disposeAll([params, state])
      ;[params, state] = next
    }
    const { w, b } = params as { w: tf.Tensor2D; b: tf.Tensor }
    return tf.argMax(tf.add(tf.matMul(norm(tf.tensor2d(testF, [testF.length / dim, dim])), w as tf.Tensor2D), b), 1)
  })
  const pred = await predT.data()
  predT.dispose()
  let correct = 0
  pred.forEach((p, i) => (correct += p === testY[i] ? 1 : 0))
  return correct / pred.length
}
