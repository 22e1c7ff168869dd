/**
 * Schedules: functions of the step `k` (0-based) returning a decay or a blend weight, evaluated on
 * the host in float64. One convention throughout: a **decay** is the weight on the OLD value,
 * `avg ← decay·avg + (1 − decay)·new`.
 *
 * Every schedule with a horizon `K` clamps `k` to `[0, K]`. The reference implementations do not:
 * their cosines swing back after `K` (`m_{2K} = m_0`, `α_{2K} = 1`, docs/methods.md E10/M1/P9), which only
 * matters when training runs past the planned number of steps.
 *
 * @module ema/schedules
 */
import { DECAY_EXPECTED, type DecaySpec } from '../codecs/config.js'
import { InvalidArgumentError } from '../core/errors.js'

/** A schedule: the value at step `k` (0-based). */
export type Schedule = (k: number) => number

const checkDecay = (where: string, d: number): void => {
  if (!(Number.isFinite(d) && d >= 0 && d <= 1)) {
    throw new InvalidArgumentError(where, `got ${d}; expected ${DECAY_EXPECTED}`)
  }
}

const checkHorizon = (where: string, K: number): void => {
  if (!(Number.isInteger(K) && K >= 1)) throw new InvalidArgumentError(where, `must be an integer ≥ 1, got ${K}`)
}

const clampStep = (k: number, K: number): number => (k <= 0 ? 0 : k >= K ? K : k)

/**
 * Converts a PyTorch BatchNorm `momentum` (weight on the NEW value, default 0.1) into polyak's
 * decay (weight on the OLD value): `decay = 1 − momentum`, computed in float64.
 *
 * @example
 * fromTorchMomentum(0.1) // 0.9: PyTorch's default BatchNorm running-stat update
 */
export const fromTorchMomentum = (momentum: number): number => {
  checkDecay('fromTorchMomentum: momentum', momentum)
  return 1 - momentum
}

/** The inverse of `fromTorchMomentum`: `momentum = 1 − decay`. */
export const toTorchMomentum = (decay: number): number => {
  checkDecay('toTorchMomentum: decay', decay)
  return 1 - decay
}

/** `d_k = decay` for every `k`. */
export const constant =
  (decay: number): Schedule =>
  () => {
    checkDecay('constant: decay', decay)
    return decay
  }

/**
 * The BYOL / EMAN / Momentum² teacher-weight schedule, a cosine increase from `base` to 1:
 *
 *     m_k = 1 − (1 − base)·(cos(π·k/K) + 1)/2,   k clamped to [0, K]
 *
 * so `m_0 = base`, `m_{K/2} = (1 + base)/2`, `m_K = 1`. EMAN's BYOL uses `base = 0.98` (README
 * command) or 0.996 (argparse default) with `K = epochs·iters_per_epoch`; Momentum² Teacher uses
 * `base = 0.99`; solo-learn's `MomentumUpdater` is the same with a final value of 1.
 *
 * @param base - decay at `k = 0`
 * @param K - horizon (total steps), ≥ 1
 */
export const cosineToOne = (base: number, K: number): Schedule => {
  checkDecay('cosineToOne: base', base)
  checkHorizon('cosineToOne: K', K)
  return (k) => 1 - ((1 - base) * (Math.cos((Math.PI * clampStep(k, K)) / K) + 1)) / 2
}

/**
 * The Momentum² Teacher BatchNorm blend weight (PyTorch convention: weight on the NEW batch
 * statistics), a cosine decrease from 1 to 0:
 *
 *     α_k = (cos(π·k/K) + 1)/2,   k clamped to [0, K]
 *
 * `α_0 = 1` (pure batch statistics), `α_{K/2} = 0.5`, `α_K = 0` (pure running statistics).
 * (zengarden/momentum2-teacher `MomentumBatchNorm`, docs/methods.md)
 */
export const momentumBnAlpha = (K: number): Schedule => {
  checkHorizon('momentumBnAlpha: K', K)
  return (k) => (Math.cos((Math.PI * clampStep(k, K)) / K) + 1) / 2
}

/** Options of `warmup`. */
export interface WarmupOptions {
  /** The largest decay (reached asymptotically), default 0.9999 (timm `ModelEmaV3`). */
  readonly decay?: number
  /** Lower clip, default 0. */
  readonly minDecay?: number
  /** Inverse multiplicative factor `γ` of the step, default 1. */
  readonly gamma?: number
  /** Exponent, default 2/3 (timm; 3/4 is also common). */
  readonly power?: number
}

/**
 * timm's EMA warm-up (`ModelEmaV3.get_decay` with `use_warmup=True`):
 *
 *     d_k = clip(1 − (1 + k/γ)^(−power), minDecay, decay)
 *
 * `d_0 = max(0, minDecay)`: the first update copies when `minDecay = 0`.
 */
export const warmup = (options: WarmupOptions = {}): Schedule => {
  const decay = options.decay ?? 0.9999
  const minDecay = options.minDecay ?? 0
  const gamma = options.gamma ?? 1
  const power = options.power ?? 2 / 3
  checkDecay('warmup: decay', decay)
  checkDecay('warmup: minDecay', minDecay)
  if (minDecay > decay) throw new InvalidArgumentError('warmup: minDecay', `must be ≤ decay (${decay}), got ${minDecay}`)
  if (!(gamma > 0) || !Number.isFinite(gamma)) throw new InvalidArgumentError('warmup: gamma', `must be a finite number > 0, got ${gamma}`)
  if (!(power > 0) || !Number.isFinite(power)) throw new InvalidArgumentError('warmup: power', `must be a finite number > 0, got ${power}`)
  return (k) => {
    const raw = 1 - (1 + Math.max(0, k) / gamma) ** -power
    return Math.min(decay, Math.max(minDecay, raw))
  }
}

/** A decay given either as a number (constant) or as a schedule (its codec is `DecaySpec` in codecs/config). */
export type { DecaySpec }

/** Resolves a `DecaySpec` at step `k`, checking the result is a decay. */
export const decayAt = (spec: DecaySpec, k: number, where = 'decay'): number => {
  const d = typeof spec === 'number' ? spec : spec(k)
  checkDecay(where, d)
  return d
}
