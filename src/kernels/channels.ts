/**
 * Fused per-channel kernels: the statistics and the elementwise half of every normaliser.
 *
 * A tensor is viewed as `[G, A, C, B]` by a layout `{lead, axis}`: the `lead` leading axes are
 * groups (`G = ∏ shape[<lead]`, statistics per group and channel), `C = shape[axis]` the channels,
 * `A = ∏ shape[lead..axis)`, `B = ∏ shape[>axis]`. BatchNorm's NHWC activations: `lead = 0`, `axis`
 * last (`B = 1`); OIHW filters: `axis = 0`; Momentum BN's `[views, rows, C]`: `lead = 1`;
 * GroupNorm's `[N, HW, groups, C/G]`: `lead = 1`, `axis = 2`. Statistics and coefficients are
 * `[G·C]`, group-major.
 *
 * - `PolyakMoments`: `mean[c] = Σ x / n`, `variance[c] = Σ (x − mean[c])² / n` over `n = A·B`
 *   values per channel, two passes, float32 blocks of 64 summed in float64.
 * - `PolyakNormalize`: `y = (x − center[c])·scale[c] + offset[c]`, one read and one write.
 * - `PolyakNormalizeGradSums`: `Σ dy` and `Σ dy·(x − center[c])` per channel, the reductions of
 *   `PolyakNormalize`'s gradient.
 *
 * - `PolyakStandardize`: `y = (x − mean[c])·scale[c]·(variance[c] + ε)^(−1/2)`, the biased
 *   moments and the normalisation in one kernel (WeightAlign and Weight Standardization per filter).
 *
 * Registered for wasm (WebAssembly SIMD, `assembly/kernels.ts`) and cpu (loops over the backend's
 * typed arrays, sums in float64); `PolyakMoments`, `PolyakNormalize`, `PolyakNormalizeGradSums` and
 * `PolyakStandardize` for webgpu (WGSL: moments as a two-stage parallel reduction — many workgroups
 * per statistic merging `(count, mean, M2)` in shared memory, then a combine; the gradient sums the
 * same way, with plain sums; standardize as one dispatch of one workgroup
 * per tile of channels; normalize in one pass, `vec4` when the channels are last and a multiple of
 * 4). Elsewhere `tfOps` composes tfjs ops (or, for standardize, the fused moments and normalize).
 *
 * @module kernels/channels
 */
import * as tf from '@tensorflow/tfjs-core'
import { KERNELS } from './names.js'
import { gradSumsCpu, momentsCpu, normalizeCpu } from './channels/cpu.js'
import { type ChannelLayout, channelView, statsShape } from './channels/layout.js'
import { gradSumsWasm, momentsWasm, normalizeWasm } from './channels/wasm.js'
import {
  MAX_STANDARDIZE_COUNT,
  MAX_WEBGPU_STATS,
  type StandardizeAttrs,
  gradSumsWebgpu,
  momentsWebgpu,
  normalizeWebgpu,
  standardizeWebgpu,
} from './channels/webgpu.js'
import { defineKernel } from './registry.js'
import { onWasm } from './wasm/module.js'

export { type ChannelLayout, channelView, layoutOf } from './channels/layout.js'

const gradSumsKernel = defineKernel({
  name: KERNELS.normalizeGradSums,
  backends: { wasm: onWasm(gradSumsWasm), cpu: () => gradSumsCpu, webgpu: () => gradSumsWebgpu },
})

/** False on webgpu when `x`'s statistics are more than a dispatch dimension holds (`MAX_WEBGPU_STATS`); true elsewhere. */
const withinWebgpuStats = (x: tf.Tensor, layout: ChannelLayout): boolean => tf.getBackend() !== 'webgpu' || statsShape(x.shape, layout)[0]! <= MAX_WEBGPU_STATS

/** True when `normalizeGradSums` can run fused on the active backend (on webgpu: within its dispatch limits, and not empty). */
const canFuseGradSums = (x: tf.Tensor, layout: ChannelLayout): boolean =>
  (tf.getBackend() !== 'webgpu' || x.size > 0) && withinWebgpuStats(x, layout) && gradSumsKernel.available()

/** The shape, of `x`'s rank, that `[G·C]` statistics broadcast from: 1 on the reduced axes. */
export const statsBroadcastShape = (shape: readonly number[], { lead, axis }: ChannelLayout): number[] => shape.map((d, i) => (i < lead || i === axis ? d : 1))

const normalizeKernel = defineKernel({
  name: KERNELS.normalize,
  backends: { wasm: onWasm(normalizeWasm), cpu: () => normalizeCpu, webgpu: () => normalizeWebgpu },
  gradient: {
    inputsToSave: ['x', 'center', 'scale'],
    gradFunc: (dy, saved, attrs) => {
      const [x, center, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor]
      const layout = attrs
      const g = dy as tf.Tensor
      // computed here, not inside the closures: tfjs runs each closure in its own tidy
      const axes = x.shape.map((_, i) => i).filter((i) => i >= layout.lead && i !== layout.axis)
      const [sumDy, sumDyCentered] = canFuseGradSums(x, layout)
        ? gradSumsKernel.run<tf.Tensor[]>({ dy: g, x, center }, layout)
        : [g, tf.mul(g, tf.sub(x, tf.reshape(center, statsBroadcastShape(x.shape, layout))))].map((t) => tf.reshape(tf.sum(t, axes), [-1]))
      return {
        // ∂/∂x = dy·scale[c]; ∂/∂center = −scale·Σ dy; ∂/∂scale = Σ dy·(x − center); ∂/∂offset = Σ dy
        x: () => fusedNormalize(g, tf.zerosLike(center), scale, tf.zerosLike(center), layout),
        center: () => tf.neg(tf.mul(scale, sumDy!)),
        scale: () => tf.clone(sumDyCentered!),
        offset: () => tf.clone(sumDy!),
      }
    },
  },
})

const momentsKernel = defineKernel({
  name: KERNELS.moments,
  backends: { wasm: onWasm(momentsWasm), cpu: () => momentsCpu, webgpu: () => momentsWebgpu },
  gradient: {
    inputsToSave: ['x'],
    outputsToSave: [true, false],
    gradFunc: (dys, saved, attrs) => {
      const [dMean, dVariance] = dys as tf.Tensor[]
      const [x, mean] = saved as [tf.Tensor, tf.Tensor]
      const layout = attrs
      const n = x.size / mean.size
      // ∂/∂x = dMean/n + dVariance·2(x − mean)/n, one fused pass
      return { x: () => fusedNormalize(x, mean, tf.mul(dVariance!, tf.scalar(2 / n)), tf.div(dMean!, tf.scalar(n)), layout) }
    },
  },
})

/** True when `moments` can run fused on the active backend (the layout is checked by the caller). */
export const canFuseMoments = (x: tf.Tensor, layout: ChannelLayout): boolean =>
  x.dtype === 'float32' && x.size > 0 && withinWebgpuStats(x, layout) && momentsKernel.available()

/** `[mean, biased variance]`, each `[G·C]`, over the axes outside `layout`. */
export const fusedMoments = (x: tf.Tensor, layout: ChannelLayout): [tf.Tensor1D, tf.Tensor1D] => momentsKernel.run<[tf.Tensor1D, tf.Tensor1D]>({ x }, layout)

/** True when `normalize` can run fused on the active backend (the layout is checked by the caller). */
export const canFuseNormalize = (x: tf.Tensor, coefficients: readonly tf.Tensor[]): boolean =>
  x.dtype === 'float32' && coefficients.every((t) => t.dtype === 'float32') && normalizeKernel.available()

/** `(x − center)·scale + offset` with `[G·C]` coefficients laid out by `layout`. */
export const fusedNormalize = (x: tf.Tensor, center: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor, layout: ChannelLayout): tf.Tensor =>
  normalizeKernel.run({ x, center, scale, offset }, layout)

const standardizeKernel = defineKernel({
  name: KERNELS.standardize,
  backends: { webgpu: () => standardizeWebgpu },
  gradient: {
    inputsToSave: ['x', 'scale'],
    gradFunc: (dy, saved, attrs) => {
      const [x, scale] = saved as [tf.Tensor, tf.Tensor]
      const g = dy as tf.Tensor
      const axes = x.shape.map((_, i) => i).filter((i) => i >= attrs.lead && i !== attrs.axis)
      const full = statsBroadcastShape(x.shape, attrs)
      const n = x.size / scale.size
      // x̂ = (x − μ)·r, r = (σ² + ε)^(−1/2), y = x̂·s, with Σ over the reduced axes:
      // ∂/∂s = Σ dy·x̂;  ∂/∂x = r·s·(dy − Σdy/n − x̂·Σ(dy·x̂)/n)
      const layout = { lead: attrs.lead, axis: attrs.axis }
      const [mean, variance] = canFuseMoments(x, layout)
        ? fusedMoments(x, layout).map((t) => tf.reshape(t, full))
        : ((m) => [m.mean, m.variance])(tf.moments(x, axes, true))
      const r = tf.rsqrt(tf.add(variance!, tf.scalar(attrs.epsilon)))
      const xhat = tf.mul(tf.sub(x, mean!), r)
      const sumDy = tf.sum(g, axes, true)
      const sumDyXhat = tf.sum(tf.mul(g, xhat), axes, true)
      const dScale = tf.reshape(sumDyXhat, [-1])
      const dx = tf.mul(tf.mul(r, tf.reshape(scale, full)), tf.sub(tf.sub(g, tf.div(sumDy, tf.scalar(n))), tf.mul(xhat, tf.div(sumDyXhat, tf.scalar(n)))))
      return { x: () => dx, scale: () => dScale }
    },
  },
})

/** True when `standardize` can run as one fused kernel on the active backend (the layout is checked by the caller). */
export const canFuseStandardize = (x: tf.Tensor, scale: tf.Tensor, layout: ChannelLayout): boolean => {
  if (x.dtype !== 'float32' || scale.dtype !== 'float32' || x.size === 0) return false
  const [groups, a, c, b] = channelView(x.shape, layout)
  return a * b <= MAX_STANDARDIZE_COUNT && groups <= MAX_WEBGPU_STATS && c <= MAX_WEBGPU_STATS && standardizeKernel.available()
}

/** `(x − mean)·scale·(variance + ε)^(−1/2)` with biased moments and `[G·C]` scales laid out by `layout`. */
export const fusedStandardize = (x: tf.Tensor, scale: tf.Tensor, layout: ChannelLayout, epsilon: number): tf.Tensor =>
  standardizeKernel.run({ x, scale }, { ...layout, epsilon } satisfies StandardizeAttrs)
