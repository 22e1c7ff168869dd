/**
 * What every activation normalizer in polyak is: `init` (the initial parameters and statistics for
 * a channel count) and `apply(x, mode)` (a transition that reports the normalised `x`).
 *
 * Layout: channels last, as in TensorFlow.js — `x` is `[N, C]`, `[N, L, C]` or `[N, H, W, C]`, and
 * per-channel statistics reduce over every axis but the last. (PyTorch is channels first: transpose
 * NCHW → NHWC at the boundary, as the parity fixtures do.)
 *
 * `mode` is an explicit argument, never hidden state (docs/methods.md P4, N8): `'train'` and `'eval'`
 * mean what each normalizer documents, and teacher normalizers (EMAN) behave the same in both.
 *
 * @module norm/normalizer
 */
import { InvalidArgumentError, ShapeMismatchError, showShape } from '../core/errors.js'
import type { Ops } from '../core/ops.js'
import type { Leaf } from '../core/tree.js'
import type { Slots, Transition } from '../core/transition.js'

/** Training or evaluation behaviour. */
export type Mode = 'train' | 'eval'

/** Extra context some normalizers need in `apply`. */
export interface ApplyContext {
  /** The 0-based training step (Momentum BN's α schedule reads it). */
  readonly step?: number
  /** The batch holds this many views of equal size, stacked along axis 0 (Momentum BN, default 1). */
  readonly views?: number
}

/** An activation normalizer over tensors `T` with parameters `P` and statistics `S`. */
export interface Normalizer<T extends Leaf, P, S> {
  /** The normalizer's name, e.g. `'batchNorm'`. */
  readonly name: string
  /** Initial parameters and statistics for `channels` channels (never updates statistics). */
  readonly init: (channels: number) => Slots<P, S>
  /** Normalises `x` (channels last); reports the output. */
  readonly apply: (x: T, mode: Mode, context?: ApplyContext) => Transition<P, S, T>
}

/** Affine parameters of a normalizer: `y = γ·x̂ + β` per channel. */
export interface AffineParams<T> {
  readonly gamma: T
  readonly beta: T
}

/** Checks `x` is channels-last with `channels` channels; returns the reduction axes (all but the last). */
export const channelAxes = (op: string, x: Leaf, channels: number): number[] => {
  if (x.shape.length < 2) {
    throw new ShapeMismatchError(`${op}: x`, `expected a batch with channels last ([N, C], [N, H, W, C], ...), got ${showShape(x.shape)}`)
  }
  const c = x.shape[x.shape.length - 1]!
  if (c !== channels) {
    throw new ShapeMismatchError(`${op}: x`, `x ${showShape(x.shape)} has ${c} channels (last axis) but the parameters are for ${channels} channels`)
  }
  return x.shape.slice(0, -1).map((_, i) => i)
}

/**
 * Per-channel affine normalisation `y = γ·(x − μ)/√(σ² + ε) + β`, computed as
 * `y = (x − μ)·s + β` with `s = γ·rsqrt(σ² + ε)` on the small coefficient tensors, then one
 * `ops.normalize` pass over `x` (fused where the backend has the kernel).
 * `mean`, `variance`, `gamma`, `beta` broadcast against `x` (shape `[C]` or with leading 1s).
 */
export const affineNormalize = <T extends Leaf>(ops: Ops<T>, x: T, mean: T, variance: T, gamma: T, beta: T, epsilon: number): T =>
  ops.normalize(x, mean, ops.mul(gamma, ops.rsqrt(ops.shift(variance, epsilon))), beta)

/** Validates a channel count given to `init`. */
export const checkChannels = (op: string, channels: number): void => {
  if (!Number.isInteger(channels) || channels < 1) {
    throw new InvalidArgumentError(`${op}: channels`, `must be an integer ≥ 1, got ${channels}`)
  }
}
