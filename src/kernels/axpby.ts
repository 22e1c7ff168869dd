/**
 * The fused `axpby` kernel, `out = α·x + β·y` in one pass, registered per tfjs backend under the
 * kernel name `PolyakAxpby`; `tfOps.axpby` uses it when the active backend has it (same shapes,
 * float32) and composes `mul, mul, add` otherwise. Every EMA, teacher update and running-statistic
 * update in polyak goes through `axpby`.
 *
 * - **cpu**: a loop over the backend's typed arrays (the composed path takes tfjs-cpu's generic
 *   broadcasting route for `tensor·scalar`, three passes and two temporaries).
 * - **webgpu**: one WGSL program reading `x` and `y` once and writing `out` once (the composed path
 *   runs three programs).
 * - **wasm**: a WebAssembly SIMD loop (`assembly/kernels.ts`) on the backend's memory, in place when
 *   donated and unshared.
 *
 * The arithmetic is `fround(α)·x + fround(β)·y` in float32 weights, like the composed path's
 * scalar tensors; the conformance suite and the EMA laws run on it.
 *
 * @module kernels/axpby
 */
import * as tf from '@tensorflow/tfjs-core'
import { KERNELS } from './names.js'
import { type KernelImpl, defineKernel } from './registry.js'
import { type WasmBackendLike, offsetOf, onWasm, renewIdentity, wasmKernels } from './wasm/module.js'
import { ElementwiseProgram } from './webgpuProgram.js'

/** The kernel's name in the tfjs registry. */
export const AXPBY = KERNELS.axpby

interface AxpbyAttrs {
  readonly alpha: number
  readonly beta: number
  /** Write into `x`'s storage (buffer donation): only when the caller promises `x` is dead. */
  readonly inPlace?: boolean
}

/**
 * Buffer donation's contract, one place for every backend: `x`'s storage may take the result only
 * when the caller donated `x`, no other tensor shares that storage, and it is not `y`'s.
 */
const mayWriteInPlace = (backend: { refCount: (id: unknown) => number }, attrs: AxpbyAttrs, x: tf.TensorInfo, y: tf.TensorInfo): boolean =>
  attrs.inPlace === true && backend.refCount(x.dataId) === 1 && x.dataId !== y.dataId

const cpuKernel: KernelImpl<'cpu', 'x' | 'y', AxpbyAttrs> = ({ inputs: { x, y }, backend, attrs }) => {
  const { alpha, beta } = attrs
  const b = backend
  const xv = b.data.get(x.dataId).values
  const yv = b.data.get(y.dataId).values
  const a = Math.fround(alpha)
  const c = Math.fround(beta)
  // Donated and not shared with any other tensor (a clone on cpu shares storage): update in place.
  if (mayWriteInPlace(b, attrs, x, y)) {
    for (let i = 0; i < xv.length; i++) xv[i] = a * xv[i]! + c * yv[i]!
    b.incRef(x.dataId)
    return { dataId: x.dataId, shape: [...x.shape], dtype: 'float32' }
  }
  const out = new Float32Array(xv.length)
  for (let i = 0; i < out.length; i++) out[i] = a * xv[i]! + c * yv[i]!
  return b.makeTensorInfo([...x.shape], 'float32', out)
}

/**
 * A flat elementwise WGSL program for `α·x + β·y` (tfjs-backend-webgpu's program interface), reading
 * and writing `vec4<f32>` when the size is a multiple of 4 (as tfjs's own binary ops do).
 */
class AxpbyProgram extends ElementwiseProgram {
  readonly variableNames = ['X', 'Y']
  readonly uniforms = 'alpha : f32, beta : f32,'
  constructor(outputShape: number[]) {
    super(outputShape, 'axpby', 2, outputShape.reduce((p, d) => p * d, 1) % 4 === 0)
  }
  getUserCode(): string {
    // uniforms.size counts vec4s when outputComponent is 4
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          result[index] = uniforms.alpha * X[index] + uniforms.beta * Y[index];
        }
      }
    `
  }
}

const webgpuKernel: KernelImpl<'webgpu', 'x' | 'y', AxpbyAttrs> = ({ inputs: { x, y }, backend, attrs }) => {
  const { alpha, beta } = attrs
  return backend.runWebGPUProgram(new AxpbyProgram([...x.shape]), [x, y], 'float32', [
    { type: 'float32', data: [alpha] },
    { type: 'float32', data: [beta] },
  ])
}

const wasmKernel: KernelImpl<'wasm', 'x' | 'y', AxpbyAttrs> = ({ inputs: { x, y }, backend, attrs }) => {
  const { alpha, beta } = attrs
  const b = backend
  const k = wasmKernels(b)!
  const n = x.shape.reduce((p, d) => p * d, 1)
  // Donated and unshared: write into x's storage (each element is read before it is written), then
  // give the storage a new identity, since XNNPACK caches packed conv/matMul weights by tensor id
  if (mayWriteInPlace(b, attrs, x, y)) {
    k.axpby(offsetOf(b, x), offsetOf(b, x), offsetOf(b, y), n, alpha, beta)
    renewIdentity(b, x)
    b.incRef(x.dataId)
    return { dataId: x.dataId, shape: [...x.shape], dtype: 'float32' }
  }
  const out = b.makeOutput([...x.shape], 'float32')
  k.axpby(offsetOf(b, out), offsetOf(b, x), offsetOf(b, y), n, alpha, beta)
  return out
}

const axpbyKernel = defineKernel({
  name: AXPBY,
  backends: {
    cpu: () => cpuKernel,
    webgpu: () => webgpuKernel,
    wasm: onWasm(wasmKernel),
  },
  gradient: {
    gradFunc: (dy, _saved, attrs) => {
      const { alpha, beta } = attrs
      return { x: () => tf.mul(dy as tf.Tensor, tf.scalar(alpha)), y: () => tf.mul(dy as tf.Tensor, tf.scalar(beta)) }
    },
  },
})

/** True when `axpby` of these operands can run as the fused kernel on the active backend. */
export const canFuseAxpby = (x: tf.Tensor, y: tf.Tensor): boolean =>
  x.dtype === 'float32' && y.dtype === 'float32' && x.shape.length === y.shape.length && x.shape.every((d, i) => d === y.shape[i]) && axpbyKernel.available()

/** Runs the fused kernel; with `donate`, a backend that can may reuse `x`'s storage for the result. */
export const fusedAxpby = (alpha: number, x: tf.Tensor, beta: number, y: tf.Tensor, donate = false): tf.Tensor =>
  axpbyKernel.run({ x, y }, { alpha, beta, inPlace: donate })
