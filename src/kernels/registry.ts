/**
 * How polyak's fused kernels enter tfjs: each is a tfjs kernel under its own name, registered per
 * backend the first time the DSL asks for it on that backend, with a gradient so it can sit inside
 * `tf.grad`. Callers ask `kernel.available()` and fall back to composed tfjs ops when it is false
 * (another backend, a non-float32 operand, or the fused path switched off with `useFusedKernels`).
 *
 * @module kernels/registry
 */
import * as tf from '@tensorflow/tfjs-core'

/** The parts of tfjs-backend-cpu's `MathBackendCPU` the cpu kernels use (storage is a typed array per tensor). */
export interface CpuBackendLike {
  data: { get: (id: unknown) => { values: Float32Array } }
  makeTensorInfo: (shape: number[], dtype: 'float32', values: Float32Array) => tf.TensorInfo
  refCount: (id: unknown) => number
  incRef: (id: unknown) => void
}

/** The part of tfjs-backend-webgpu's `WebGPUBackend` the WGSL kernels use: its program runner. */
export interface WebGpuBackendLike {
  runWebGPUProgram: (program: unknown, inputs: tf.TensorInfo[], dtype: 'float32', uniforms: Array<{ type: string; data: number[] }>) => tf.TensorInfo
}

/** A fused kernel: its tfjs name, its implementations per backend name, its gradient. */
export interface KernelSpec {
  readonly name: string
  /** Implementation per tfjs backend name; `() => undefined` where this process cannot run it (checked once). */
  readonly backends: Readonly<Record<string, () => tf.KernelFunc | undefined>>
  readonly gradient?: Omit<tf.GradConfig, 'kernelName'>
}

/** A registered-on-demand fused kernel. */
export interface FusedKernel {
  readonly name: string
  /** True when the fused path is on and the active backend runs this kernel (registers it on first call per backend). */
  available(): boolean
}

let disabled = false

/** Turns every fused kernel off (`false`) or back on, e.g. to benchmark or test the composed fallback. */
export const useFusedKernels = (on: boolean): void => {
  disabled = !on
}

/** Defines a fused kernel; registration happens lazily, per backend, in `available()`. */
export const defineKernel = (spec: KernelSpec): FusedKernel => {
  const tried = new Set<string>()
  const register = (backendName: string): void => {
    tried.add(backendName)
    const impl = spec.backends[backendName]?.()
    if (impl === undefined) return
    if (tf.getKernel(spec.name, backendName) === undefined) tf.registerKernel({ kernelName: spec.name, backendName, kernelFunc: impl })
    if (spec.gradient !== undefined && tf.getGradient(spec.name) === undefined) tf.registerGradient({ kernelName: spec.name, ...spec.gradient })
  }
  return {
    name: spec.name,
    available: () => {
      if (disabled) return false
      const backendName = tf.getBackend()
      if (!tried.has(backendName)) register(backendName)
      return tf.getKernel(spec.name, backendName) !== undefined
    },
  }
}
