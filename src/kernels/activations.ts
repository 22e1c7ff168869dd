/**
 * Fused kernels for the building blocks of polyak's conv nets:
 *
 * - `PolyakReluGrad`: `dx = dy·[x > 0]` in one pass (the composed gradient is `greater`, `cast`,
 *   `mul`: three passes and two temporaries).
 * - `PolyakAvgPool2` / `PolyakAvgPool2Grad`: 2×2 average pooling with stride 2 of an NHWC tensor,
 *   odd trailing rows and columns dropped, `y = ¼·((x00 + x01) + (x10 + x11))`, and its gradient
 *   `dx = ¼·dy` on each window (0 on dropped pixels). Elsewhere the pooling is tfjs's `AvgPool`.
 *
 * Registered for wasm (WebAssembly SIMD, `assembly/kernels.ts`) and webgpu (WGSL, one invocation per
 * output element, or per `vec4` of channels when they come in fours): on webgpu tfjs's `AvgPoolGrad`
 * and the composed ReLU gradient took 10 % and 4 % of the small CNN's train step (docs/profiles.md).
 *
 * @module kernels/activations
 */
import * as tf from '@tensorflow/tfjs-core'
import { KERNELS } from './names.js'
import { type KernelImpl, defineKernel } from './registry.js'
import { type WasmBackendLike, offsetOf, onWasm, wasmKernels } from './wasm/module.js'
import { ElementwiseProgram, int32 } from './webgpuProgram.js'

/** `dy·[x > 0]` per element (per `vec4` when the size is a multiple of 4). */
class ReluGradProgram extends ElementwiseProgram {
  readonly variableNames = ['DY', 'X']
  readonly uniforms = ''
  constructor(shape: number[], vec4: boolean) {
    super(shape, 'relu_grad', 2, vec4)
  }
  getUserCode(): string {
    const zero = this.outputComponent === 4 ? 'vec4<f32>(0.0)' : '0.0'
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          result[index] = select(${zero}, DY[index], X[index] > ${zero});
        }
      }
    `
  }
}

/**
 * The 2×2 pooling's two directions over NHWC tensors, one invocation per output element (per `vec4`
 * of channels with `cv = c/4`): forward, output `[n, h/2, w/2, c]`,
 * `¼·((x00 + x01) + (x10 + x11))`; backward, output `[n, h, w, c]`, `¼·dy` of the window the pixel
 * is in, 0 in a dropped odd last row or column.
 */
class AvgPool2Program extends ElementwiseProgram {
  readonly variableNames = ['X']
  readonly uniforms = 'h : i32, w : i32, cv : i32,'
  constructor(
    outShape: number[],
    vec4: boolean,
    private readonly backward: boolean,
  ) {
    super(outShape, backward ? 'avg_pool2_grad' : 'avg_pool2', 1, vec4)
  }
  getUserCode(): string {
    const body = this.backward
      ? `
          // index = ((b·h + y)·w + x)·cv + k over the input's shape
          let k = index % uniforms.cv;
          let p = index / uniforms.cv;
          let x = p % uniforms.w;
          let r = p / uniforms.w;
          let y = r % uniforms.h;
          let b = r / uniforms.h;
          let oh = uniforms.h / 2;
          let ow = uniforms.w / 2;
          if (y < 2 * oh && x < 2 * ow) {
            result[index] = X[((b * oh + y / 2) * ow + x / 2) * uniforms.cv + k] * 0.25;
          } else {
            result[index] = ${this.outputComponent === 4 ? 'vec4<f32>(0.0)' : '0.0'};
          }`
      : `
          // index = ((b·oh + i)·ow + j)·cv + k over the pooled shape
          let oh = uniforms.h / 2;
          let ow = uniforms.w / 2;
          let k = index % uniforms.cv;
          let p = index / uniforms.cv;
          let j = p % ow;
          let r = p / ow;
          let i = r % oh;
          let b = r / oh;
          let top = ((b * uniforms.h + 2 * i) * uniforms.w + 2 * j) * uniforms.cv + k;
          let below = top + uniforms.w * uniforms.cv;
          result[index] = ((X[top] + X[top + uniforms.cv]) + (X[below] + X[below + uniforms.cv])) * 0.25;`
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {${body}
        }
      }
    `
  }
}

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

const reluGradWebgpu: KernelImpl<'webgpu', 'dy' | 'x', Record<string, never>> = ({ inputs: { dy, x }, backend }) => {
  const size = x.shape.reduce((p, d) => p * d, 1)
  return backend.runWebGPUProgram(new ReluGradProgram([...x.shape], size % 4 === 0), [dy, x], 'float32', [])
}

const reluGradKernel = defineKernel({ name: KERNELS.reluGrad, backends: { wasm: onWasm(reluGradWasm), webgpu: () => reluGradWebgpu } })

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

const poolWebgpu: KernelImpl<'webgpu', 'x', Record<string, never>> = ({ inputs: { x }, backend }) => {
  const [n, h, w, c] = x.shape as [number, number, number, number]
  const vec4 = c % 4 === 0
  return backend.runWebGPUProgram(new AvgPool2Program([n, h >> 1, w >> 1, c], vec4, false), [x], 'float32', [int32(h), int32(w), int32(vec4 ? c / 4 : c)])
}

const poolGradWebgpu: KernelImpl<'webgpu', 'dy', { inputShape: [number, number, number, number] }> = ({ inputs: { dy }, backend, attrs }) => {
  const [, h, w, c] = attrs.inputShape
  const vec4 = c % 4 === 0
  return backend.runWebGPUProgram(new AvgPool2Program([...attrs.inputShape], vec4, true), [dy], 'float32', [int32(h), int32(w), int32(vec4 ? c / 4 : c)])
}

const poolGradKernel = defineKernel({ name: KERNELS.avgPool2Grad, backends: { wasm: onWasm(poolGradWasm), webgpu: () => poolGradWebgpu } })

const poolKernel = defineKernel({
  name: KERNELS.avgPool2,
  backends: { wasm: onWasm(poolWasm), webgpu: () => poolWebgpu },
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
