/**
 * Optimizers in optax's shape: `init(params) → state`, `update(grads, params, state, step) →
 * [params', state']`, pure functions over model trees (polyak never mutates a tensor). Weight decay
 * and LARS adaptation skip the leaves a path predicate excludes (BatchNorm γ/β and biases, as in
 * the EMAN and Momentum² Teacher reference code).
 *
 * @module optim/optimizers
 */
import * as tf from '@tensorflow/tfjs-core'
import { tfOps } from '../core/tfOps.js'
import { InvalidArgumentError } from '../core/errors.js'
import { type PathPredicate, type TreeRecord, fromLeaves, mapAny, zipN } from '../core/tree.js'
import type { Schedule } from '../ema/schedules.js'

/** A learning rate: a number or a schedule of the step. */
export type LearningRate = number | Schedule

/** Optimizer state: named trees shaped like the parameters (momentum buffers, moments). */
export type OptState = Record<string, TreeRecord<tf.Tensor>>

/** An optimizer. `update` is pure: it returns new parameters and state, and disposes nothing. */
export interface Optimizer {
  readonly name: string
  readonly init: (params: TreeRecord<tf.Tensor>) => OptState
  readonly update: (grads: TreeRecord<tf.Tensor>, params: TreeRecord<tf.Tensor>, state: OptState, step: number) => [TreeRecord<tf.Tensor>, OptState]
}

const lrAt = (lr: LearningRate, step: number): number => (typeof lr === 'number' ? lr : lr(step))

/**
 * The parameter, gradient and state trees as columns of leaves (walked together, paired by path,
 * shapes checked), so that each line of an update is one `axpbyMany` over every leaf: a few
 * dispatches per line on webgpu instead of one per leaf. `tree` puts a column back into a tree
 * shaped like `params`.
 */
const columns = (params: TreeRecord<tf.Tensor>, grads: TreeRecord<tf.Tensor>, states: readonly TreeRecord<tf.Tensor>[]) => {
  const out = { paths: [] as string[], params: [] as tf.Tensor[], grads: [] as tf.Tensor[], states: states.map(() => [] as tf.Tensor[]) }
  zipN<tf.Tensor, void>(
    [params, grads, ...states],
    ([p, g, ...s], path) => {
      out.paths.push(path)
      out.params.push(p!)
      out.grads.push(g!)
      s.forEach((t, i) => out.states[i]!.push(t))
    },
    { names: ['params', 'grads', ...states.map(() => 'optimizer state')] },
  )
  return { ...out, tree: (leaves: readonly tf.Tensor[]) => fromLeaves(params, leaves) as TreeRecord<tf.Tensor> }
}

/** `xs` with the leaves where `where[i]` holds replaced by `f` of those leaves (in order); `f` is not called when none does. */
const onSome = (where: readonly boolean[], xs: readonly tf.Tensor[], f: (picked: (ys: readonly tf.Tensor[]) => tf.Tensor[]) => tf.Tensor[]): tf.Tensor[] => {
  const idx = where.flatMap((w, i) => (w ? [i] : []))
  if (idx.length === 0) return [...xs]
  const done = f((ys) => idx.map((i) => ys[i]!))
  const out = [...xs]
  idx.forEach((i, k) => (out[i] = done[k]!))
  return out
}

const zerosLike = (t: TreeRecord<tf.Tensor>): TreeRecord<tf.Tensor> => mapAny(t, (leaf) => tf.zerosLike(leaf as tf.Tensor)) as TreeRecord<tf.Tensor>

/** Excludes BatchNorm/GroupNorm affine parameters and biases (paths ending in gamma, beta or bias). */
export const normAndBias: PathPredicate = (path) => /(^|\/)(gamma|beta|bias)$/.test(path)

/**
 * SGD with (heavy-ball) momentum and decoupled-from-nothing L2 weight decay, as `torch.optim.SGD`:
 *
 *     g ← ∇ + wd·θ (unless excluded),  v ← μ·v + g,  θ ← θ − lr·v      (nesterov: θ ← θ − lr·(g + μ·v))
 */
export const sgd = (config: { lr: LearningRate; momentum?: number; weightDecay?: number; nesterov?: boolean; exclude?: PathPredicate }): Optimizer => {
  const mu = config.momentum ?? 0.9
  const wd = config.weightDecay ?? 0
  const exclude = config.exclude ?? normAndBias
  return {
    name: 'sgd',
    init: (params) => ({ velocity: zerosLike(params) }),
    update: (grads, params, state, step) =>
      tfOps.tidy(() => {
        const lr = lrAt(config.lr, step)
        const c = columns(params, grads, [state.velocity!])
        // every line is one axpbyMany over the leaves: fused passes where the backend has the kernels
        const decayed = c.paths.map((path) => wd > 0 && !exclude(path))
        const gd = onSome(decayed, c.grads, (pick) => tfOps.axpbyMany(1, pick(c.grads), wd, pick(c.params)))
        const v1 = tfOps.axpbyMany(mu, c.states[0]!, 1, gd)
        const stepDir = config.nesterov === true ? tfOps.axpbyMany(1, gd, mu, v1) : v1
        return [c.tree(tfOps.axpbyMany(1, c.params, -lr, stepDir)), { velocity: c.tree(v1) }]
      }),
  }
}

/**
 * LARS (You et al. 2017) as in the BYOL / Momentum² reference code: SGD with momentum where each
 * non-excluded leaf's step is scaled by the trust ratio `η·‖θ‖/(‖g‖ + wd·‖θ‖)`; excluded leaves
 * (BN and biases) get neither weight decay nor adaptation.
 */
export const lars = (config: { lr: LearningRate; momentum?: number; weightDecay?: number; trust?: number; exclude?: PathPredicate }): Optimizer => {
  const mu = config.momentum ?? 0.9
  const wd = config.weightDecay ?? 1e-6
  const eta = config.trust ?? 0.001
  const exclude = config.exclude ?? normAndBias
  return {
    name: 'lars',
    init: (params) => ({ velocity: zerosLike(params) }),
    update: (grads, params, state, step) =>
      tfOps.tidy(() => {
        const lr = lrAt(config.lr, step)
        const c = columns(params, grads, [state.velocity!])
        const d = c.grads.map((g, i) => {
          if (exclude(c.paths[i]!)) return g
          const theta = c.params[i]!
          const pn = tf.norm(theta)
          const gn = tf.norm(g)
          const ratio = tf.where(tf.logicalAnd(tf.greater(pn, 0), tf.greater(gn, 0)), tf.div(tf.mul(pn, eta), tf.add(gn, tf.mul(pn, wd))), tf.scalar(1))
          return tf.mul(tf.add(g, tf.mul(theta, wd)), ratio)
        })
        const v1 = tfOps.axpbyMany(mu, c.states[0]!, 1, d)
        return [c.tree(tfOps.axpbyMany(1, c.params, -lr, v1)), { velocity: c.tree(v1) }]
      }),
  }
}

/** Adam (Kingma & Ba 2015) with bias correction; optional decoupled weight decay (AdamW) on non-excluded leaves. */
export const adam = (config: {
  lr: LearningRate
  beta1?: number
  beta2?: number
  epsilon?: number
  weightDecay?: number
  exclude?: PathPredicate
}): Optimizer => {
  const b1 = config.beta1 ?? 0.9
  const b2 = config.beta2 ?? 0.999
  const eps = config.epsilon ?? 1e-8
  const wd = config.weightDecay ?? 0
  const exclude = config.exclude ?? normAndBias
  return {
    name: 'adam',
    init: (params) => ({ m: zerosLike(params), v: zerosLike(params) }),
    update: (grads, params, state, step) =>
      tfOps.tidy(() => {
        const lr = lrAt(config.lr, step)
        const t = step + 1
        const c1 = 1 - b1 ** t
        const c2 = 1 - b2 ** t
        const c = columns(params, grads, [state.m!, state.v!])
        const m1 = tfOps.axpbyMany(b1, c.states[0]!, 1 - b1, c.grads)
        const v1 = tfOps.axpbyMany(
          b2,
          c.states[1]!,
          1 - b2,
          c.grads.map((g) => tf.square(g)),
        )
        const direction = m1.map((m, i) => tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v1[i]!, c2)), eps)))
        const decayed = c.paths.map((path) => wd > 0 && !exclude(path))
        const upd = onSome(decayed, direction, (pick) => tfOps.axpbyMany(1, pick(direction), wd, pick(c.params)))
        return [c.tree(tfOps.axpbyMany(1, c.params, -lr, upd)), { m: c.tree(m1), v: c.tree(v1) }]
      }),
  }
}

/**
 * Linear warm-up then cosine decay (the reference codes' `warmcos`):
 * `lr_k = base·(k+1)/W` for `k < W`, then `base·(1 + cos(π·(k − W)/(K − W)))/2`, clamped at `K`.
 */
export const warmupCosine = (config: { base: number; warmupSteps: number; totalSteps: number; final?: number }): Schedule => {
  const { base, warmupSteps: W, totalSteps: K } = config
  const final = config.final ?? 0
  if (!(K >= 1) || !(W >= 0) || W > K) throw new InvalidArgumentError('warmupCosine', `needs 0 ≤ warmupSteps ≤ totalSteps, totalSteps ≥ 1; got ${W}, ${K}`)
  return (k) => {
    if (k < W) return (base * (k + 1)) / W
    const t = Math.min(1, (k - W) / Math.max(1, K - W))
    return final + ((base - final) * (1 + Math.cos(Math.PI * t))) / 2
  }
}
