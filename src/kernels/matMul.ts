/**
 * Matrix products with transposed operands, routed around a slow path of tfjs-backend-wasm.
 *
 * @module kernels/matMul
 */
import * as tf from '@tensorflow/tfjs-core'

/**
 * `a·b`, `aᵀ·b`, `a·bᵀ` or `aᵀ·bᵀ` without tfjs-wasm's slow transposed-operand path: on wasm,
 * `matMul(a, b, true, false)` of [12544,288]ᵀ·[12544,64] takes 255 ms, an explicit transpose then
 * `matMul` 39 ms, and `matMul(bᵀ, a)` 19 ms (2-core machine, tfjs 4.22). Other backends take the flags.
 */
export const matMulT = (a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean): tf.Tensor => {
  if (tf.getBackend() !== 'wasm' || !transposeA) return tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, transposeA, transposeB)
  return tf.tidy(() => tf.matMul(tf.transpose(a as tf.Tensor2D), b as tf.Tensor2D, false, transposeB))
}
