/**
 * The losses of the pipelines: cross-entropy (supervised, FixMatch), BYOL's cosine loss, NT-Xent
 * (SimCLR) and InfoNCE (MoCo).
 *
 * @module train/losses
 */
import * as tf from '@tensorflow/tfjs-core'
import { stopGradient } from './common.js'

/** Mean cross-entropy of `logits` `[N, K]` against integer `labels`. */
export const crossEntropy = (logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar =>
  tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(labels, logits.shape[1]), tf.logSoftmax(logits)), 1))) as tf.Scalar

/** Cross-entropy against hard pseudo-labels, averaged over the whole batch but counting only `mask` (FixMatch). */
export const maskedCrossEntropy = (logits: tf.Tensor2D, labels: tf.Tensor1D, mask: tf.Tensor1D): tf.Scalar =>
  tf.neg(tf.mean(tf.mul(tf.sum(tf.mul(tf.oneHot(labels, logits.shape[1]), tf.logSoftmax(logits)), 1), mask))) as tf.Scalar

/** Rows scaled to unit L2 norm. */
export const l2Normalize = (x: tf.Tensor2D): tf.Tensor2D => tf.mul(x, tf.rsqrt(tf.add(tf.sum(tf.square(x), 1, true), 1e-12))) as tf.Tensor2D

/** BYOL's loss `2 − 2·cos(p, z)`, averaged over the batch. */
export const byolLoss = (p: tf.Tensor2D, z: tf.Tensor2D): tf.Scalar =>
  tf.sub(2, tf.mul(2, tf.mean(tf.sum(tf.mul(l2Normalize(p), l2Normalize(z)), 1)))) as tf.Scalar

/**
 * NT-Xent (SimCLR) between `a` and targets `b`: for each row `i` of `a`, the positive is `b_i`
 * and the negatives are the other rows of `b`: `−mean_i log softmax_j(⟨â_i, b̂_j⟩/τ)_i`.
 */
export const ntXent = (a: tf.Tensor2D, b: tf.Tensor2D, temperature = 0.1): tf.Scalar => {
  const logits = tf.div(tf.matMul(l2Normalize(a), l2Normalize(b), false, true), temperature) as tf.Tensor2D
  const n = a.shape[0]
  return crossEntropy(logits, tf.range(0, n, 1, 'int32') as tf.Tensor1D)
}

/**
 * MoCo's InfoNCE loss: for each query `q_i`, the positive key `k_i` against the queue's negatives,
 * `−log(exp(q̂_i·k̂_i/τ) / (exp(q̂_i·k̂_i/τ) + Σ_j exp(q̂_i·n_j/τ)))` with L2-normalised vectors and
 * τ = 0.2 (MoCo v2), averaged over the batch. The keys and the queue carry no gradient.
 */
export const infoNce = (q: tf.Tensor2D, k: tf.Tensor2D, queue: tf.Tensor2D, temperature = 0.2): tf.Scalar => {
  const qn = l2Normalize(q)
  const positive = tf.sum(tf.mul(qn, stopGradient(l2Normalize(k))), 1, true)
  const negative = tf.matMul(qn, stopGradient(queue), false, true)
  const logits = tf.div(tf.concat([positive, negative], 1), temperature) as tf.Tensor2D
  return crossEntropy(logits, tf.zeros([q.shape[0]], 'int32') as tf.Tensor1D)
}
