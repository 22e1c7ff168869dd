/**
 * What every training pipeline shares: gradients of a loss over a parameter tree, the losses, the
 * train state, disposal, and evaluation.
 *
 * @module train/common
 */
import * as tf from '@tensorflow/tfjs-core'
import { disposeTree } from '../core/memory.js'
import { tfOps } from '../core/tfOps.js'
import { type Tree, leaves } from '../core/tree.js'
import { registerGradients } from '../nn/gradients.js'
import type { Model, ModelTree } from '../nn/model.js'
import type { ImageSet } from '../data/images.js'
import { NONE, makeBatch } from '../data/augment.js'
import { rng } from '../nn/random.js'

/** Student, optional teacher, optimizer state and step: everything a run carries from step to step. */
export interface TrainState {
  readonly student: { readonly params: ModelTree; readonly stats: ModelTree }
  readonly teacher?: { readonly params: ModelTree; readonly stats: ModelTree }
  readonly opt: Record<string, ModelTree>
  readonly step: number
}

/** Metrics a step reports (host numbers). */
export type Metrics = Record<string, number>

/** `tf.tidy` for results that hold tensors in arbitrary (typed) structures. */
export const scoped = <R>(f: () => R): R => tf.tidy(f as unknown as () => tf.TensorContainer) as unknown as R

/** The identity whose gradient is zero: `sg(x)` (tfjs has no stop-gradient op). */
export const stopGradient = <T extends tf.Tensor>(x: T): T =>
  tf.customGrad(((a: tf.Tensor) => ({ value: tf.clone(a), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) })) as unknown as Parameters<typeof tf.customGrad>[0])(x) as T

/** Every tensor of a model tree, with its path (`tree.leaves`). */
export const flatten = (t: ModelTree): Array<[string, tf.Tensor]> => leaves(t as Tree<tf.Tensor>) as Array<[string, tf.Tensor]>

/** Rebuilds a tree shaped like `like` from tensors in `flatten` order. */
export const unflatten = (like: ModelTree, tensors: readonly tf.Tensor[]): ModelTree => {
  let i = 0
  const go = (t: ModelTree): ModelTree => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v instanceof tf.Tensor ? tensors[i++]! : go(v)]))
  return go(like)
}

/** Disposes every tensor of a value (trees, arrays, states): `disposeTree` on the tfjs interpreter. */
export const disposeAll = (x: unknown): void => disposeTree(tfOps, x)

/** What a loss function returns: the scalar to differentiate, new statistics to keep, and metrics. */
export interface LossOutput {
  readonly loss: tf.Scalar
  readonly stats: ModelTree
  readonly extra?: Record<string, tf.Tensor>
  readonly metrics?: Record<string, tf.Scalar>
}

/**
 * The loss's value and gradients with respect to every parameter of `params`, plus the statistics
 * and extra tensors the loss computed on the way (kept, owned by the caller). Registers polyak's
 * gradient functions on first use.
 */
export const valueAndGrads = (
  params: ModelTree,
  f: (params: ModelTree) => LossOutput,
): { loss: tf.Scalar; grads: ModelTree; stats: ModelTree; extra: Record<string, tf.Tensor>; metrics: Record<string, tf.Scalar> } => {
  registerGradients()
  const leaves = flatten(params).map(([, t]) => t)
  let captured: { stats: ModelTree; extra: Record<string, tf.Tensor>; metrics: Record<string, tf.Scalar> } | undefined
  const { value, grads } = tf.valueAndGrads((...ts: tf.Tensor[]) => {
    const out = f(unflatten(params, ts))
    captured = { stats: keepTree(out.stats), extra: keepTree(out.extra ?? {}) as Record<string, tf.Tensor>, metrics: keepTree(out.metrics ?? {}) as Record<string, tf.Scalar> }
    return out.loss
  })(leaves)
  return { loss: value, grads: unflatten(params, grads), stats: captured!.stats, extra: captured!.extra, metrics: captured!.metrics }
}

/** Reads scalar metrics back (asynchronously: webgpu has no synchronous readback) and disposes them. */
export const readMetrics = async (scalars: Record<string, tf.Scalar>): Promise<Metrics> => {
  const out: Metrics = {}
  for (const [k, v] of Object.entries(scalars)) {
    out[k] = (await v.data())[0]!
    v.dispose()
  }
  return out
}

const keepTree = <T>(t: T): T => {
  if (t instanceof tf.Tensor) return tf.keep(t) as T
  if (t !== null && typeof t === 'object') return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, keepTree(v)])) as T
  return t
}

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

/** A tensor batch `[B, H, W, 1]` from host data. */
export const toImages = (data: Float32Array, b: number, set: ImageSet): tf.Tensor4D => tf.tensor4d(data, [b, set.height, set.width, 1])

/** Accuracy of `model`'s classifier head on `set` in eval mode (batches of 500). */
export const accuracy = async (model: Model, params: ModelTree, stats: ModelTree, set: ImageSet, limit = set.n): Promise<number> => {
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
export const features = async (model: Model, params: ModelTree, stats: ModelTree, set: ImageSet, indices: readonly number[]): Promise<Float32Array> => {
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
export const knnAccuracy = async (trainF: Float32Array, trainY: ArrayLike<number>, testF: Float32Array, testY: ArrayLike<number>, dim: number, k = 10): Promise<number> => {
  const indices = tf.tidy(() => {
    const a = l2Normalize(tf.tensor2d(trainF, [trainF.length / dim, dim]))
    const b = l2Normalize(tf.tensor2d(testF, [testF.length / dim, dim]))
    return tf.topk(tf.matMul(b, a, false, true), k).indices
  })
  const nn = (await indices.array()) as number[][]
  indices.dispose()
  let correct = 0
  nn.forEach((row, i) => {
    const votes = new Array<number>(10).fill(0)
    row.forEach((j) => (votes[trainY[j]!]! += 1))
    correct += votes.indexOf(Math.max(...votes)) === testY[i] ? 1 : 0
  })
  return correct / nn.length
}

/**
 * Linear probe: a softmax classifier trained with Adam on frozen features (standardised), then its
 * test accuracy.
 */
export const linearProbe = async (trainF: Float32Array, trainY: ArrayLike<number>, testF: Float32Array, testY: ArrayLike<number>, dim: number, steps = 300): Promise<number> => {
  registerGradients()
  const predT = tf.tidy(() => {
    const xtr = tf.tensor2d(trainF, [trainF.length / dim, dim])
    const { mean, variance } = tf.moments(xtr, 0)
    const norm = (x: tf.Tensor2D) => tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-6))) as tf.Tensor2D
    const x = norm(xtr)
    const y = tf.tensor1d(Array.from(trainY), 'int32')
    let w: tf.Tensor = tf.zeros([dim, 10])
    let b: tf.Tensor = tf.zeros([10])
    let m: tf.Tensor[] = [tf.zerosLike(w), tf.zerosLike(b)]
    let v: tf.Tensor[] = [tf.zerosLike(w), tf.zerosLike(b)]
    for (let t = 1; t <= steps; t++) {
      const next = tf.tidy(() => {
        const g = tf.grads((wi: tf.Tensor, bi: tf.Tensor) => crossEntropy(tf.add(tf.matMul(x, wi as tf.Tensor2D), bi) as tf.Tensor2D, y))([w, b])
        const m1 = m.map((mi, i) => tf.add(tf.mul(mi, 0.9), tf.mul(g[i]!, 0.1)))
        const v1 = v.map((vi, i) => tf.add(tf.mul(vi, 0.999), tf.mul(tf.square(g[i]!), 0.001)))
        const upd = [w, b].map((p, i) => tf.sub(p, tf.mul(tf.div(tf.div(m1[i]!, 1 - 0.9 ** t), tf.add(tf.sqrt(tf.div(v1[i]!, 1 - 0.999 ** t)), 1e-8)), 0.05)))
        return { upd, m1, v1 }
      })
      disposeAll([w, b, m, v])
      ;[w, b] = next.upd as [tf.Tensor, tf.Tensor]
      m = next.m1
      v = next.v1
    }
    return tf.argMax(tf.add(tf.matMul(norm(tf.tensor2d(testF, [testF.length / dim, dim])), w as tf.Tensor2D), b), 1)
  })
  const pred = await predT.data()
  predT.dispose()
  let correct = 0
  pred.forEach((p, i) => (correct += p === testY[i] ? 1 : 0))
  return correct / pred.length
}
