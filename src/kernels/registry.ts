/**
 * How polyak's fused kernels enter tfjs: each is a tfjs kernel under its own name, registered per
 * backend the first time the DSL asks for it on that backend, with a gradient so it can sit inside
 * `tf.grad`. Callers ask `kernel.available()` and fall back to composed tfjs ops when it is false
 * (another backend, a non-float32 operand, or the fused path switched off with `useFusedKernels`).
 *
 * @module kernels/registry
 */
import * as tf from '@tensorflow/tfjs-core'
import type { KernelName } from './names.js'
import { type KernelBackends, backendAs, internalsAllowed } from './tfjsInternals.js'

export type { CpuBackendLike, WebGpuBackendLike, KernelBackends } from './tfjsInternals.js'

/** A kernel implementation on backend `B`, with named inputs `I` and attributes `A` (typed: tfjs's own are untyped maps). */
export type KernelImpl<B extends keyof KernelBackends, I extends string, A = Record<string, never>> = (args: {
  readonly inputs: Readonly<Record<I, tf.TensorInfo>>
  readonly backend: KernelBackends[B]
  readonly attrs: A
}) => tf.TensorInfo | tf.TensorInfo[]

/** A kernel's gradient with typed attributes. */
export interface KernelGradient<A> {
  readonly inputsToSave?: string[]
  readonly outputsToSave?: boolean[]
  readonly gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: A) => Record<string, () => tf.Tensor>
}

/** A fused kernel: its tfjs name (one constant), its implementations per backend, its gradient. */
export interface KernelSpec<I extends string, A> {
  readonly name: KernelName
  /** Implementation per tfjs backend name; `() => undefined` where this process cannot run it (checked once). */
  readonly backends: { readonly [B in keyof KernelBackends]?: () => KernelImpl<B, I, A> | undefined }
  readonly gradient?: KernelGradient<A>
}

/** A registered-on-demand fused kernel. */
export interface FusedKernel<I extends string, A> {
  readonly name: KernelName
  /** True when the fused path is on and the active backend runs this kernel (registers it on first call per backend). */
  available(): boolean
  /** Runs the kernel on the active backend (after `available()`): typed inputs and attributes in, tensors out. */
  run<R extends tf.Tensor | tf.Tensor[] = tf.Tensor>(inputs: Readonly<Record<I, tf.Tensor>>, attrs: A): R
}

let disabled = false
const disabledNames = new Set<KernelName>()

/**
 * Turns every fused kernel off (`false`) or back on, e.g. to benchmark or test the composed
 * fallback; with `names` (`KERNELS.axpbyMany`, …), only those kernels.
 */
export const useFusedKernels = (on: boolean, names?: readonly KernelName[]): void => {
  if (names === undefined) {
    disabled = !on
    if (on) disabledNames.clear()
    return
  }
  for (const n of names) {
    if (on) disabledNames.delete(n)
    else disabledNames.add(n)
  }
}

/**
 * Defines a fused kernel; registration happens lazily, per backend, in `available()`. The only casts
 * between tfjs's untyped kernel interface and the typed one are here.
 */
export const defineKernel = <I extends string, A = Record<string, never>>(spec: KernelSpec<I, A>): FusedKernel<I, A> => {
  const tried = new Set<string>()
  const register = (backendName: string): void => {
    tried.add(backendName)
    const impl = (spec.backends as Record<string, (() => KernelImpl<keyof KernelBackends, I, A> | undefined) | undefined>)[backendName]?.()
    if (impl === undefined) return
    if (tf.getKernel(spec.name, backendName) === undefined) {
      const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) =>
        // tfjs hands every kernel its attributes as an untyped map; the spec names their type
        impl({ inputs: inputs as Record<I, tf.TensorInfo>, backend: backendAs(backendName as keyof KernelBackends, backend), attrs: attrs as unknown as A })
      tf.registerKernel({ kernelName: spec.name, backendName, kernelFunc })
    }
    if (spec.gradient !== undefined && tf.getGradient(spec.name) === undefined) {
      const { gradFunc, ...saved } = spec.gradient
      // the attributes tfjs saved are the ones this kernel ran with: typed A by the spec
      tf.registerGradient({ kernelName: spec.name, ...saved, gradFunc: (dy, s, attrs) => gradFunc(dy, s, attrs as unknown as A) })
    }
  }
  return {
    name: spec.name,
    available: () => {
      if (disabled || disabledNames.has(spec.name) || !internalsAllowed()) return false
      const backendName = tf.getBackend()
      if (!tried.has(backendName)) register(backendName)
      return tf.getKernel(spec.name, backendName) !== undefined
    },
    run: <R extends tf.Tensor | tf.Tensor[]>(inputs: Readonly<Record<I, tf.Tensor>>, attrs: A) =>
      tf.engine().runKernel(spec.name, inputs as tf.NamedTensorMap, { ...(attrs as object) } as tf.NamedAttrMap) as R,
  }
}
