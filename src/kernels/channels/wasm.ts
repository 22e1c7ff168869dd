/**
 * The wasm implementations of the per-channel kernels (`kernels/channels`): WebAssembly SIMD from
 * `assembly/kernels.ts`, run once per group on the backend's memory.
 *
 * @module kernels/channels/wasm
 */
import type * as tf from '@tensorflow/tfjs-core'
import { type WasmBackendLike, offsetOf, wasmKernels, withScratch } from '../wasm/module.js'
import { type ChannelLayout, perGroup, statsShape } from './layout.js'
import type { KernelImpl } from '../registry.js'

/** `PolyakMoments` on wasm. */
export const momentsWasm: KernelImpl<'wasm', 'x', ChannelLayout> = ({ inputs: { x }, backend, attrs }) => {
  const layout = attrs
  const be = backend
  const mean = be.makeOutput(statsShape(x.shape, layout), 'float32')
  const variance = be.makeOutput(statsShape(x.shape, layout), 'float32')
  const k = wasmKernels(be)!
  const [px, pm, pv] = [offsetOf(be, x), offsetOf(be, mean), offsetOf(be, variance)]
  withScratch(be, 12 * x.shape[layout.axis]!, (scratch) =>
    perGroup(x.shape, layout, (g, a, c, b) => k.moments(px + 4 * g * a * c * b, a, c, b, pm + 4 * g * c, pv + 4 * g * c, scratch)),
  )
  return [mean, variance]
}

/** `PolyakNormalize` on wasm. */
export const normalizeWasm: KernelImpl<'wasm', 'x' | 'center' | 'scale' | 'offset', ChannelLayout> = ({
  inputs: { x, center, scale, offset },
  backend,
  attrs,
}) => {
  const be = backend
  const out = be.makeOutput([...x.shape], 'float32')
  const k = wasmKernels(be)!
  const [px, pc, ps, po, pout] = [x, center, scale, offset, out].map((t) => offsetOf(be, t)) as [number, number, number, number, number]
  perGroup(x.shape, attrs, (g, a, c, b) => {
    const [at, co] = [4 * g * a * c * b, 4 * g * c]
    k.normalize(px + at, a, c, b, pc + co, ps + co, po + co, pout + at)
  })
  return out
}

/** `PolyakNormalizeGradSums` on wasm. */
export const gradSumsWasm: KernelImpl<'wasm', 'dy' | 'x' | 'center', ChannelLayout> = ({ inputs: { dy, x, center }, backend, attrs }) => {
  const layout = attrs
  const be = backend
  const sumDy = be.makeOutput(statsShape(x.shape, layout), 'float32')
  const sumDyCentered = be.makeOutput(statsShape(x.shape, layout), 'float32')
  const k = wasmKernels(be)!
  const [pdy, px, pc, ps, pp] = [dy, x, center, sumDy, sumDyCentered].map((t) => offsetOf(be, t)) as [number, number, number, number, number]
  withScratch(be, 24 * x.shape[layout.axis]!, (scratch) =>
    perGroup(x.shape, layout, (g, a, c, b) => {
      const [at, co] = [4 * g * a * c * b, 4 * g * c]
      k.normalizeGradSums(pdy + at, px + at, a, c, b, pc + co, ps + co, pp + co, scratch)
    }),
  )
  return [sumDy, sumDyCentered]
}
