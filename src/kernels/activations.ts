/**
 * Fused kernels for the building blocks of polyak's conv nets:
 *
 * - `PolyakReluGrad`: `dx = dy·[x > 0]` in one pass (the composed gradient is `greater`, `cast`,
 *   `mul`: three passes and two temporaries).
 * - `PolyakAvgPool2` / `PolyakAvgPool2Grad`: 2×2 average pooling with stride 2 of an NHWC tensor,
 *   odd trailing rows and columns dropped, `y = ¼·((x00 + x01) + (x10 + x11))`, and its gradient
 *   `dx = ¼·dy` on each window (0 on dropped pixels). Elsewhere the pooling is tfjs's `AvgPool`.
 *
 * Registered for wasm (WebAssembly SIMD, `assembly/kernels.ts`).
 *
 * @module kernels/activations
 */
import * as tf from '@tensorflow/tfjs-core'
import { KERNELS } from './names.js'
import { type KernelImpl, defineKernel } from './registry.js'
import { type WasmBackendLike, offsetOf, onWasm, wasmKernels } from './wasm/module.js'

const reluGradWasm: KernelImpl<'wasm', 'dy' | 'x', Record<string, never>> = ({ inputs: { dy, x }, backend }) => {
  const be = backend
  const out = be.makeOutput([...x.shape], 'float32')
  wasmKernels(be)!.reluGrad(
    offsetOf(be, out),
    offsetOf(be, dy),
    offsetOf(be, x),
    x.shape.reduce((p, d) => p * d, 1),
  )
  return out
}

const reluGradKernel = defineKernel({ name: KERNELS.reluGrad, backends: { wasm: onWasm(reluGradWasm) } })

/** `dy·[x > 0]`, fused where the backend has the kernel. */
export const reluGrad = (dy: tf.Tensor, x: tf.Tensor): tf.Tensor =>
  dy.dtype === 'float32' && x.dtype === 'float32' && reluGradKernel.available()
    ? reluGradKernel.run({ dy, x }, {})
    : tf.mul(dy, tf.cast(tf.greater(x, 0), 'float32'))

const poolWasm: KernelImpl<'wasm', 'x', Record<string, never>> = ({ inputs: { x }, backend }) => {
  const [n, h, w, c] = x.shape as [number, number, number, number]
  const be = backend
  const out = be.makeOutput([n, h >> 1, w >> 1, c], 'float32')
  wasmKernels(be)!.avgPool2(offsetOf(be, x), n, h, w, c, offsetOf(be, out))
  return out
}

const poolGradWasm: KernelImpl<'wasm', 'dy', { inputShape: [number, number, number, number] }> = ({ inputs: { dy }, backend, attrs }) => {
  const [n, h, w, c] = attrs.inputShape
  const be = backend
  const out = be.makeOutput([n, h, w, c], 'float32')
  wasmKernels(be)!.avgPool2Grad(offsetOf(be, dy), n, h, w, c, offsetOf(be, out))
  return out
}

const poolGradKernel = defineKernel({ name: KERNELS.avgPool2Grad, backends: { wasm: onWasm(poolGradWasm) } })

const poolKernel = defineKernel({
  name: KERNELS.avgPool2,
  backends: { wasm: onWasm(poolWasm) },
  gradient: {
    inputsToSave: ['x'],
    gradFunc: (dy, [x]) => ({
      x: () => poolGradKernel.run({ dy: dy as tf.Tensor }, { inputShape: [...x!.shape] as [number, number, number, number] }),
    }),
  },
})

/**
 * 2×2 average pooling with stride 2 of an NHWC `x` (`[n, h, w, c]`, `h, w ≥ 2`; an odd last row or
 * column is dropped): `y[b, i, j, ch] = ¼·Σ_{u,v ∈ {0,1}} x[b, 2i + u, 2j + v, ch]`. Differentiable.
 */
export const avgPool2x2 = (x: tf.Tensor4D): tf.Tensor4D =>
  // the fused forward only where its gradient kernel runs too
  x.dtype === 'float32' && poolKernel.available() && poolGradKernel.available() ? poolKernel.run<tf.Tensor4D>({ x }, {}) : composedAvgPool2x2(x)

/**
 * The 2×2 pooling where the fused kernel does not run: tfjs's own `AvgPool` (valid padding drops an
 * odd last row or column, as the fused kernel does). It replaced a composed
 * `mean(reshape(x, [n, h/2, 2, w/2, 2, c]), [2, 4])`, whose reduction over two strided axes cost
 * webgpu 1 009 ms against 93 ms forward and backward at [64, 28, 28, 32] (cpu: 848 against 476 ms;
 * `polyak bench --profile` showed `Mean` as 42 % of the CNN step on webgpu). This module sits below
 * `tfOps`, whose `pool2d` dispatches its 2×2 pooling here.
 */
const composedAvgPool2x2 = (x: tf.Tensor4D): tf.Tensor4D => tf.avgPool(x, 2, 2, 'valid')
