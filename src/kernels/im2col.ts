/**
 * Transposed im2col for the convolution filter gradient on backends without Conv2DBackpropFilter
 * (wasm), where polyak's own filter-gradient program (`kernels/conv`) does not take the channels
 * (output channels not in eights): `cols[(i·kw + j)·ci + c, p] = x[n, y·sh + i − top, x·sw + j − left, c]` (0 in the padding)
 * for output position `p = (n·oh + y)·ow + x`, so that `∂L/∂W = cols · dy` is one plain matrix
 * product with no transposed operand (tfjs-wasm's transposed-operand path is ~10× slower).
 *
 * Registered for wasm (WebAssembly, `assembly/kernels.ts`); no gradient (it only runs inside one).
 *
 * @module kernels/im2col
 */
import * as tf from '@tensorflow/tfjs-core'
import { KERNELS } from './names.js'
import { type KernelImpl, defineKernel } from './registry.js'
import { type WasmBackendLike, offsetOf, onWasm, wasmKernels } from './wasm/module.js'

/** The window geometry of `im2colT`. */
export interface Im2ColGeometry {
  readonly kh: number
  readonly kw: number
  readonly sh: number
  readonly sw: number
  readonly top: number
  readonly left: number
  readonly oh: number
  readonly ow: number
}

const im2colWasm: KernelImpl<'wasm', 'x', Im2ColGeometry> = ({ inputs: { x }, backend, attrs }) => {
  const g = attrs
  const [n, h, w, ci] = x.shape as [number, number, number, number]
  const be = backend
  const out = be.makeOutput([g.kh * g.kw * ci, n * g.oh * g.ow], 'float32')
  wasmKernels(be)!.im2colT(offsetOf(be, x), n, h, w, ci, g.kh, g.kw, g.sh, g.sw, g.top, g.left, g.oh, g.ow, offsetOf(be, out))
  return out
}

const im2colKernel = defineKernel({
  name: KERNELS.im2colT,
  backends: { wasm: onWasm(im2colWasm) },
})

/** True when the active backend runs `im2colT` for this input. */
export const canIm2ColT = (x: tf.Tensor): boolean => x.dtype === 'float32' && x.rank === 4 && im2colKernel.available()

/** `cols`, `[kh·kw·ci, n·oh·ow]`, of an NHWC `x` (see the module doc). */
export const im2colT = (x: tf.Tensor4D, geometry: Im2ColGeometry): tf.Tensor2D => im2colKernel.run<tf.Tensor2D>({ x }, geometry)
