/**
 * The wasm implementations of polyak's convolutions (`kernels/conv`): `assembly/kernels.ts`'s
 * `conv2d` (forward, and the input gradient through the transposed window) and `convFilterGrad`, run
 * on tfjs-wasm's memory with the packed filter, the zero run and the address tables in scratch
 * space from the backend's allocator.
 *
 * @module kernels/conv/wasm
 */
import type * as tf from '@tensorflow/tfjs-core'
import type { KernelImpl } from '../registry.js'
import { type WasmBackendLike, offsetOf, wasmKernels, withScratch } from '../wasm/module.js'
import type { ConvFilterGradAttrs, ConvGeometry, ConvInputGradAttrs } from './geometry.js'

/** Output channels per register tile of the wasm programs (`TILE_O` in `assembly/kernels.ts`). */
export const WASM_TILE_O = 8

/**
 * Runs `assembly/kernels.ts`'s `conv2d` into a new `[n, oh, ow, O]` tensor: packs `filter` (forward,
 * `[kh, kw, C, O]`; transposed, `[kh, kw, O, C]`) into scratch space with the zero run and the
 * per-tap address table, then convolves `input` (`[n, h, w, C]`).
 */
const wasmConv = (
  backend: WasmBackendLike,
  input: tf.TensorInfo,
  filter: tf.TensorInfo,
  outShape: readonly [number, number, number, number],
  g: Pick<ConvGeometry, 'sh' | 'sw' | 'top' | 'left'>,
  transposed: boolean,
): tf.TensorInfo => {
  const [n, h, w, C] = input.shape as [number, number, number, number]
  const [kh, kw] = filter.shape as [number, number]
  const [, oh, ow, O] = outShape
  const taps = kh * kw
  const out = backend.makeOutput([...outShape], 'float32')
  const packedBytes = taps * C * O * 4
  const zerosBytes = Math.max(16, C * 4)
  const k = wasmKernels(backend)!
  withScratch(backend, packedBytes + zerosBytes + k.conv2dTableBytes(taps), (scratch) => {
    k.packConvFilter(offsetOf(backend, filter), taps, C, O, transposed ? 1 : 0, scratch)
    k.conv2d(
      offsetOf(backend, input),
      n,
      h,
      w,
      C,
      scratch,
      kh,
      kw,
      O,
      g.sh,
      g.sw,
      g.top,
      g.left,
      oh,
      ow,
      transposed ? 1 : 0,
      scratch + packedBytes,
      scratch + packedBytes + zerosBytes,
      offsetOf(backend, out),
    )
  })
  return out
}

/** `PolyakConv2D` on wasm: `y[n, oy, ox, o] = Σ_{i, j, c} x[n, oy·sh − top + i, ox·sw − left + j, c]·W[i, j, c, o]`, by 4-pixel × 8-channel register tiles. */
export const forwardWasm: KernelImpl<'wasm', 'x' | 'filter', ConvGeometry> = ({ inputs: { x, filter }, backend, attrs: g }) => {
  const [n] = x.shape as [number]
  const co = filter.shape[3]!
  return wasmConv(backend, x, filter, [n, g.oh, g.ow, co], g, false)
}

/** `PolyakConv2DFilterGrad` on wasm: `dW[i, j, c, o] = Σ_{n, oy, ox} x[n, oy·sh − top + i, ox·sw − left + j, c]·dy[n, oy, ox, o]`, by 4 × 8 channel tiles over runs of pixels. */
export const filterGradWasm: KernelImpl<'wasm', 'x' | 'dy', ConvFilterGradAttrs> = ({ inputs: { x, dy }, backend, attrs: g }) => {
  const [n, h, w, ci] = x.shape as [number, number, number, number]
  const [kh, kw, , co] = g.filterShape
  const out = backend.makeOutput([kh, kw, ci, co], 'float32')
  const k = wasmKernels(backend)!
  // the run table: 12 bytes per output row of a chunk
  withScratch(backend, 12 * k.convFilterGradChunkRows(g.ow, co), (runs) =>
    k.convFilterGrad(offsetOf(backend, x), n, h, w, ci, offsetOf(backend, dy), g.oh, g.ow, co, kh, kw, g.sh, g.sw, g.top, g.left, runs, offsetOf(backend, out)),
  )
  return out
}

/** `PolyakConv2DInputGrad` on wasm: `dx[n, y, x, c] = Σ_{i, j, o} dy[n, (y + top − i)/sh, (x + left − j)/sw, o]·W[i, j, c, o]`, the forward tile on the transposed window. */
export const inputGradWasm: KernelImpl<'wasm', 'dy' | 'filter', ConvInputGradAttrs> = ({ inputs: { dy, filter }, backend, attrs: g }) =>
  wasmConv(backend, dy, filter, g.inputShape, g, true)
