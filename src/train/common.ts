/**
 * What every training pipeline shares: the train state, gradients of a loss over a parameter tree,
 * metric readback and disposal. The losses are in `train/losses`, evaluation in `train/evaluation`,
 * the linear probe in `train/probe`.
 *
 * @module train/common
 */
import * as tf from '@tensorflow/tfjs-core'
import { disposeTree } from '../core/memory.js'
import { tfOps } from '../core/tfOps.js'
import { type TreeRecord, fromLeaves, leaves } from '../core/tree.js'
import type { ImageSet } from '../data/images.js'
import type { Model } from '../nn/model.js'
import type { ApplyContext, Mode } from '../norm/normalizer.js'
import { registerGradients } from '../nn/gradients.js'

/** Student, optional teacher, optimizer state and step: everything a run carries from step to step. */
export interface TrainState {
  readonly student: { readonly params: TreeRecord<tf.Tensor>; readonly stats: TreeRecord<tf.Tensor> }
  readonly teacher?: { readonly params: TreeRecord<tf.Tensor>; readonly stats: TreeRecord<tf.Tensor> }
  readonly opt: Record<string, TreeRecord<tf.Tensor>>
  readonly step: number
}

/** A forward pass a training step makes: which model, on how many images, in which mode (what `checkTrainFile` runs on shapes). */
export interface ModelPass {
  readonly role: string
  readonly model: Model
  readonly batch: number
  readonly mode: Mode
  readonly context?: ApplyContext
}

/** Metrics a step reports (host numbers). */
export type Metrics = Record<string, number>

/** The identity whose gradient is zero: `sg(x)` (tfjs has no stop-gradient op). */
export const stopGradient = <T extends tf.Tensor>(x: T): T =>
  tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({ value: tf.clone(args[0] as T), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) }))(x) as T

/** Disposes every tensor of a value (trees, arrays, states): `disposeTree` on the tfjs interpreter. */
export const disposeAll = (x: unknown): void => disposeTree(tfOps, x)

/** What a loss function returns: the scalar to differentiate, new statistics to keep, and metrics. */
export interface LossOutput {
  readonly loss: tf.Scalar
  readonly stats: TreeRecord<tf.Tensor>
  readonly extra?: Record<string, tf.Tensor>
  readonly metrics?: Record<string, tf.Scalar>
}

/**
 * The loss's value and gradients with respect to every parameter of `params`, plus the statistics
 * and extra tensors the loss computed on the way (kept, owned by the caller). Registers polyak's
 * gradient functions on first use.
 */
export const valueAndGrads = (
  params: TreeRecord<tf.Tensor>,
  f: (params: TreeRecord<tf.Tensor>) => LossOutput,
): { loss: tf.Scalar; grads: TreeRecord<tf.Tensor>; stats: TreeRecord<tf.Tensor>; extra: Record<string, tf.Tensor>; metrics: Record<string, tf.Scalar> } => {
  registerGradients()
  const xs = leaves<tf.Tensor>(params).map(([, t]) => t)
  let captured: { stats: TreeRecord<tf.Tensor>; extra: Record<string, tf.Tensor>; metrics: Record<string, tf.Scalar> } | undefined
  const { value, grads } = tf.valueAndGrads((...ts: tf.Tensor[]) => {
    const out = f(fromLeaves(params, ts) as TreeRecord<tf.Tensor>)
    captured = {
      stats: keepTree(out.stats),
      extra: keepTree(out.extra ?? {}) as Record<string, tf.Tensor>,
      metrics: keepTree(out.metrics ?? {}) as Record<string, tf.Scalar>,
    }
    return out.loss
  })(xs)
  return { loss: value, grads: fromLeaves(params, grads) as TreeRecord<tf.Tensor>, stats: captured!.stats, extra: captured!.extra, metrics: captured!.metrics }
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

/** A tensor batch `[B, H, W, C]` from host data (`makeBatch`'s layout). */
export const toImages = (data: Float32Array, b: number, set: ImageSet): tf.Tensor4D => tf.tensor4d(data, [b, set.height, set.width, set.channels])
