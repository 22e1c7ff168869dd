/**
 * Evaluation of a model: classifier accuracy, frozen features, and k-NN accuracy on them.
 *
 * @module train/evaluation
 */
import * as tf from '@tensorflow/tfjs-core'
import type { TreeRecord } from '../core/tree.js'
import { NONE, makeBatch } from '../data/augment.js'
import type { ImageSet } from '../data/images.js'
import type { Model } from '../nn/model.js'
import { rng } from '../nn/random.js'
import { disposeAll, toImages } from './common.js'
import { l2Normalize } from './losses.js'

/** Accuracy of `model`'s classifier head on `set` in eval mode (batches of 500). */
export const accuracy = async (model: Model, params: TreeRecord<tf.Tensor>, stats: TreeRecord<tf.Tensor>, set: ImageSet, limit = set.n): Promise<number> => {
  let correct = 0
  const n = Math.min(limit, set.n)
  const r = rng(0)
  for (let start = 0; start < n; start += 500) {
    const idx = Array.from({ length: Math.min(500, n - start) }, (_, i) => start + i)
    const pred = tf.tidy(() => {
      const x = toImages(makeBatch(set, idx, NONE, r), idx.length, set)
      const out = model.forward(params, stats, x, 'eval', { heads: ['classifier'] })
      disposeAll(out.stats)
      return tf.argMax(out.logits!, 1)
    })
    const p = await pred.data()
    pred.dispose()
    idx.forEach((k, i) => (correct += p[i] === set.labels[k] ? 1 : 0))
  }
  return correct / n
}

/** Features `h` of the first `limit` images of `set` (eval mode), as a host array `[n, F]`. */
export const features = async (
  model: Model,
  params: TreeRecord<tf.Tensor>,
  stats: TreeRecord<tf.Tensor>,
  set: ImageSet,
  indices: readonly number[],
): Promise<Float32Array> => {
  const parts: Float32Array[] = []
  const r = rng(0)
  for (let start = 0; start < indices.length; start += 500) {
    const idx = indices.slice(start, start + 500)
    const f = tf.tidy(() => {
      const out = model.forward(params, stats, toImages(makeBatch(set, idx, NONE, r), idx.length, set), 'eval', { heads: [] })
      disposeAll(out.stats)
      return out.features
    })
    parts.push((await f.data()) as Float32Array)
    f.dispose()
  }
  const total = new Float32Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    total.set(p, o)
    o += p.length
  }
  return total
}

/**
 * k-NN accuracy (cosine similarity, majority of the k nearest) of test features against train
 * features: the standard frozen-feature evaluation of self-supervised encoders.
 */
export const knnAccuracy = async (
  trainF: Float32Array,
  trainY: ArrayLike<number>,
  testF: Float32Array,
  testY: ArrayLike<number>,
  dim: number,
  k = 10,
  classes = 10,
): Promise<number> => {
  const indices = tf.tidy(() => {
    const a = l2Normalize(tf.tensor2d(trainF, [trainF.length / dim, dim]))
    const b = l2Normalize(tf.tensor2d(testF, [testF.length / dim, dim]))
    return tf.topk(tf.matMul(b, a, false, true), k).indices
  })
  const nn = (await indices.array()) as number[][]
  indices.dispose()
  let correct = 0
  nn.forEach((row, i) => {
    const votes = new Array<number>(classes).fill(0)
    row.forEach((j) => (votes[trainY[j]!]! += 1))
    correct += votes.indexOf(Math.max(...votes)) === testY[i] ? 1 : 0
  })
  return correct / nn.length
}
