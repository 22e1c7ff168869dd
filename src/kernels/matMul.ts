/**
 * Matrix products routed around two slow paths of tfjs-backend-wasm:
 *
 * - a transposed first operand: `matMul(a, b, true, false)` of [12544,288]ᵀ·[12544,64] takes
 *   255 ms there, an explicit transpose then `matMul` 39 ms (2-core machine, tfjs 4.22);
 * - few rows: XNNPACK took 8–11 ms for the 9×50 176 · 50 176×32 filter gradient of a first conv
 *   layer; polyak's `PolyakMatMulFewRows` kernel (WebAssembly SIMD, `assembly/kernels.ts`) streams
 *   `b` once per 16 columns and 3 rows.
 *
 * Other backends take the flags as they are.
 *
 * @module kernels/matMul
 */
import * as tf from '@tensorflow/tfjs-core'
import { KERNELS } from './names.js'
import { type KernelImpl, defineKernel } from './registry.js'
import { type WasmBackendLike, offsetOf, onWasm, wasmKernels } from './wasm/module.js'

const fewRowsWasm: KernelImpl<'wasm', 'a' | 'b', Record<string, never>> = ({ inputs: { a, b }, backend }) => {
  const [m, k] = a.shape as [number, number]
  const n = b.shape[1]!
  const be = backend
  const out = be.makeOutput([m, n], 'float32')
  wasmKernels(be)!.matMulFewRows(offsetOf(be, a), offsetOf(be, b), m, k, n, offsetOf(be, out))
  return out
}

const fewRowsKernel = defineKernel({
  name: KERNELS.matMulFewRows,
  backends: { wasm: onWasm(fewRowsWasm) },
  gradient: {
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]) => ({ a: () => matMulT(dy as tf.Tensor, b!, false, true), b: () => matMulT(a!, dy as tf.Tensor, true, false) }),
  },
})

/** Rows at most this many, inner dimension at least `FEW_ROWS_MIN_K`: the few-rows kernel. */
const FEW_ROWS = 16
const FEW_ROWS_MIN_K = 256

/**
 * `a·b`, `aᵀ·b`, `a·bᵀ` or `aᵀ·bᵀ` of rank-2 tensors, avoiding tfjs-wasm's slow paths (see the
 * module doc); the result is the same product on every backend.
 */
export const matMulT = (a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean): tf.Tensor => {
  if (tf.getBackend() !== 'wasm') return tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, transposeA, transposeB)
  if (
    !transposeA &&
    !transposeB &&
    a.shape[0]! <= FEW_ROWS &&
    a.shape[1]! >= FEW_ROWS_MIN_K &&
    a.dtype === 'float32' &&
    b.dtype === 'float32' &&
    fewRowsKernel.available()
  ) {
    return fewRowsKernel.run({ a, b }, {})
  }
  if (!transposeA) return tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, false, transposeB)
  return tf.tidy(() => tf.matMul(tf.transpose(a as tf.Tensor2D), b as tf.Tensor2D, false, transposeB))
}
