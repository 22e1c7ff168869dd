/**
 * Fused per-channel kernels: the statistics and the elementwise half of every normaliser.
 *
 * A tensor is viewed as `[A, C, B]` around its channel axis `k` (`A = ∏ shape[<k]`, `C = shape[k]`,
 * `B = ∏ shape[>k]`): BatchNorm's NHWC activations have `k` last (`B = 1`), OIHW filters have
 * `k = 0` (`A = 1`), HWIO filters `k` last.
 *
 * - `PolyakMoments`: `mean[c] = Σ x / n`, `variance[c] = Σ (x − mean[c])² / n` over `n = A·B`
 *   values per channel, two passes, float32 blocks of 64 summed in float64.
 * - `PolyakNormalize`: `y = (x − center[c])·scale[c] + offset[c]`, one read and one write.
 * - `PolyakNormalizeGradSums`: `Σ dy` and `Σ dy·(x − center[c])` per channel, the reductions of
 *   `PolyakNormalize`'s gradient.
 *
 * Registered for wasm (WebAssembly SIMD, `assembly/kernels.ts`); elsewhere `tfOps` composes tfjs ops.
 *
 * @module kernels/channels
 */
import * as tf from '@tensorflow/tfjs-core'
import { defineKernel } from './registry.js'
import { type WasmBackendLike, offsetOf, wasmKernels, withScratch } from './wasm/module.js'

interface AxisAttrs {
  readonly axis: number
}

/** `[A, C, B]` of `shape` around `axis`. */
export const channelView = (shape: readonly number[], axis: number): [number, number, number] => [
  shape.slice(0, axis).reduce((p, d) => p * d, 1),
  shape[axis]!,
  shape.slice(axis + 1).reduce((p, d) => p * d, 1),
]

const onWasm = <K>(make: K) => () => (wasmKernels(tf.backend() as unknown as WasmBackendLike) === null ? undefined : make)

const momentsWasm: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x } = inputs as { x: tf.TensorInfo }
  const [a, c, b] = channelView(x.shape, (attrs as unknown as AxisAttrs).axis)
  const be = backend as unknown as WasmBackendLike
  const mean = be.makeOutput([c], 'float32')
  const variance = be.makeOutput([c], 'float32')
  withScratch(be, 12 * c, (scratch) => wasmKernels(be)!.moments(offsetOf(be, x), a, c, b, offsetOf(be, mean), offsetOf(be, variance), scratch))
  return [mean, variance]
}

const normalizeWasm: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, center, scale, offset } = inputs as Record<'x' | 'center' | 'scale' | 'offset', tf.TensorInfo>
  const [a, c, b] = channelView(x.shape, (attrs as unknown as AxisAttrs).axis)
  const be = backend as unknown as WasmBackendLike
  const out = be.makeOutput([...x.shape], 'float32')
  wasmKernels(be)!.normalize(offsetOf(be, x), a, c, b, offsetOf(be, center), offsetOf(be, scale), offsetOf(be, offset), offsetOf(be, out))
  return out
}

const gradSumsWasm: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, x, center } = inputs as Record<'dy' | 'x' | 'center', tf.TensorInfo>
  const [a, c, b] = channelView(x.shape, (attrs as unknown as AxisAttrs).axis)
  const be = backend as unknown as WasmBackendLike
  const sumDy = be.makeOutput([c], 'float32')
  const sumDyCentered = be.makeOutput([c], 'float32')
  withScratch(be, 24 * c, (scratch) =>
    wasmKernels(be)!.normalizeGradSums(offsetOf(be, dy), offsetOf(be, x), a, c, b, offsetOf(be, center), offsetOf(be, sumDy), offsetOf(be, sumDyCentered), scratch),
  )
  return [sumDy, sumDyCentered]
}

const gradSumsKernel = defineKernel({ name: 'PolyakNormalizeGradSums', backends: { wasm: onWasm(gradSumsWasm) } })

/** Shape of a `[C]` vector broadcast along `axis` of a rank-`rank` tensor. */
const along = (rank: number, axis: number, c: number): number[] => Array.from({ length: rank }, (_, i) => (i === axis ? c : 1))

const normalizeKernel = defineKernel({
  name: 'PolyakNormalize',
  backends: { wasm: onWasm(normalizeWasm) },
  gradient: {
    inputsToSave: ['x', 'center', 'scale'],
    gradFunc: (dy, saved, attrs) => {
      const [x, center, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor]
      const { axis } = attrs as unknown as AxisAttrs
      const g = dy as tf.Tensor
      // computed here, not inside the closures: tfjs runs each closure in its own tidy
      const axes = x.shape.map((_, i) => i).filter((i) => i !== axis)
      const [sumDy, sumDyCentered] = gradSumsKernel.available()
        ? (tf.engine().runKernel('PolyakNormalizeGradSums', { dy: g, x, center }, { axis }) as tf.Tensor[])
        : [tf.sum(g, axes), tf.sum(tf.mul(g, tf.sub(x, tf.reshape(center, along(x.rank, axis, center.size)))), axes)]
      return {
        // ∂/∂x = dy·scale[c]; ∂/∂center = −scale·Σ dy; ∂/∂scale = Σ dy·(x − center); ∂/∂offset = Σ dy
        x: () => fusedNormalize(g, tf.zerosLike(center), scale, tf.zerosLike(center), axis),
        center: () => tf.neg(tf.mul(scale, sumDy!)),
        scale: () => tf.clone(sumDyCentered!),
        offset: () => tf.clone(sumDy!),
      }
    },
  },
})

const momentsKernel = defineKernel({
  name: 'PolyakMoments',
  backends: { wasm: onWasm(momentsWasm) },
  gradient: {
    inputsToSave: ['x'],
    outputsToSave: [true, false],
    gradFunc: (dys, saved, attrs) => {
      const [dMean, dVariance] = dys as tf.Tensor[]
      const [x, mean] = saved as [tf.Tensor, tf.Tensor]
      const { axis } = attrs as unknown as AxisAttrs
      const n = x.size / x.shape[axis]!
      // ∂/∂x = dMean/n + dVariance·2(x − mean)/n, one fused pass
      return { x: () => fusedNormalize(x, mean, tf.mul(dVariance!, tf.scalar(2 / n)), tf.div(dMean!, tf.scalar(n)), axis) }
    },
  },
})

/** True when `moments` over every axis but `axis` can run fused on the active backend. */
export const canFuseMoments = (x: tf.Tensor): boolean => x.dtype === 'float32' && x.size > 0 && momentsKernel.available()

/** `[mean, biased variance]` per index of `axis`, each `[shape[axis]]`, reduced over all other axes. */
export const fusedMoments = (x: tf.Tensor, axis: number): [tf.Tensor1D, tf.Tensor1D] =>
  tf.engine().runKernel('PolyakMoments', { x }, { axis }) as unknown as [tf.Tensor1D, tf.Tensor1D]

/** True when `normalize` with `[C]` coefficients along `axis` can run fused on the active backend. */
export const canFuseNormalize = (x: tf.Tensor, coefficients: readonly tf.Tensor[]): boolean =>
  x.dtype === 'float32' && coefficients.every((t) => t.dtype === 'float32') && normalizeKernel.available()

/** `(x − center[c])·scale[c] + offset[c]` along `axis`, the coefficients `[shape[axis]]`. */
export const fusedNormalize = (x: tf.Tensor, center: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor, axis: number): tf.Tensor =>
  tf.engine().runKernel('PolyakNormalize', { x, center, scale, offset }, { axis }) as tf.Tensor
