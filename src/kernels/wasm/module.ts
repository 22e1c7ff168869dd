/**
 * polyak's WebAssembly SIMD kernels (compiled from `assembly/kernels.ts` at build time), instantiated
 * on tfjs-backend-wasm's own memory so that they read and write tensors where the backend keeps them.
 *
 * A tensor's storage is the byte range `[offset, offset + 4·size)` of the backend's memory
 * (`dataIdMap`); kernels allocate their outputs through the backend (`makeOutput`) and any scratch
 * through its `malloc`, and write into an input only when the caller donated it.
 *
 * @module kernels/wasm/module
 */
import * as tf from '@tensorflow/tfjs-core'
import { KERNELS_WASM_BASE64 } from './binary.generated.js'

/** The exports of `assembly/kernels.ts` (pointers are byte offsets into the backend's memory). */
export interface WasmKernelExports {
  axpby(out: number, x: number, y: number, n: number, alpha: number, beta: number): void
  moments(x: number, a: number, c: number, b: number, mean: number, variance: number, scratch: number): void
  normalize(x: number, a: number, c: number, b: number, center: number, scale: number, offset: number, out: number): void
  normalizeGradSums(dy: number, x: number, a: number, c: number, b: number, center: number, sumDy: number, sumDyCentered: number, scratch: number): void
  im2colT(x: number, n: number, h: number, w: number, ci: number, kh: number, kw: number, sh: number, sw: number, top: number, left: number, oh: number, ow: number, out: number): void
  reluGrad(out: number, dy: number, x: number, n: number): void
  avgPool2(x: number, n: number, h: number, w: number, c: number, out: number): void
  avgPool2Grad(dy: number, n: number, h: number, w: number, c: number, out: number): void
  matMulFewRows(a: number, b: number, m: number, k: number, n: number, out: number): void
}

/** `() => kernel` where this process can instantiate the module on the active wasm backend, else `() => undefined` (for `defineKernel`). */
export const onWasm =
  (kernel: tf.KernelFunc) =>
  (): tf.KernelFunc | undefined =>
    wasmKernels(tf.backend() as unknown as WasmBackendLike) === null ? undefined : kernel

/** The parts of tfjs-backend-wasm's `BackendWasm` the kernels use. */
export interface WasmBackendLike {
  readonly wasm: {
    readonly asm?: { readonly memory?: WebAssembly.Memory }
    _malloc(bytes: number): number
    _free(ptr: number): void
    readonly tfjs: { registerTensor(id: number, size: number, memoryOffset: number): void; disposeData(id: number): void }
  }
  readonly dataIdMap: { get(dataId: unknown): { id: number; memoryOffset: number } | undefined }
  dataIdNextNumber: number
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo
  refCount(dataId: unknown): number
  incRef(dataId: unknown): void
}

let compiled: WebAssembly.Module | null | undefined
const instances = new WeakMap<object, WasmKernelExports | null>()

const binary = (): Uint8Array<ArrayBuffer> => Uint8Array.from(atob(KERNELS_WASM_BASE64), (ch) => ch.charCodeAt(0))

const compile = (): WebAssembly.Module | null => {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(binary())
    } catch {
      compiled = null // no WebAssembly SIMD (or a browser's main thread refusing a synchronous compile): the composed ops stay in use
    }
  }
  return compiled
}

/**
 * Compiles the kernels asynchronously, ahead of their first use: browsers refuse synchronous
 * compiles of modules over 4 KB on the main thread. `useBackend('wasm')` calls it; where compiling
 * fails, the composed tfjs ops stay in use.
 */
export const prepareWasmKernels = async (): Promise<void> => {
  if (compiled !== undefined) return
  try {
    compiled = await WebAssembly.compile(binary())
  } catch {
    compiled = null
  }
}

/**
 * The kernels instantiated on `backend`'s memory, or `null` where that is impossible (no SIMD, or a
 * threaded build whose shared memory the module's import does not accept); callers then keep the
 * composed ops.
 */
export const wasmKernels = (backend: WasmBackendLike): WasmKernelExports | null => {
  const memory = backend.wasm.asm?.memory
  if (memory === undefined) return null
  let exports = instances.get(memory)
  if (exports === undefined) {
    const module = compile()
    try {
      exports = module === null ? null : (new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as WasmKernelExports)
    } catch {
      exports = null
    }
    instances.set(memory, exports)
  }
  return exports
}

/** Byte offset of a tensor's storage in the backend's memory. */
export const offsetOf = (backend: WasmBackendLike, t: tf.TensorInfo): number => {
  const entry = backend.dataIdMap.get(t.dataId)
  if (entry === undefined) throw new Error(`polyak wasm kernel: tensor data ${String((t.dataId as { id?: number }).id)} is not on the wasm backend`)
  return entry.memoryOffset
}

/**
 * After a kernel wrote into an existing tensor's storage (buffer donation), re-registers that storage
 * under a new backend tensor id. tfjs-wasm's C++ side caches work per tensor id (XNNPACK operators
 * with packed convolution and matMul weights) on the assumption that a tensor never changes; without
 * this, a donated teacher keeps being evaluated with its first weights.
 */
export const renewIdentity = (backend: WasmBackendLike, t: tf.TensorInfo): void => {
  const entry = backend.dataIdMap.get(t.dataId)
  if (entry === undefined) throw new Error('polyak wasm kernel: renewIdentity of a tensor that is not on the wasm backend')
  backend.wasm.tfjs.disposeData(entry.id) // drops the caches keyed by the old id; the memory stays (JS frees it)
  const id = backend.dataIdNextNumber++
  backend.wasm.tfjs.registerTensor(id, t.shape.reduce((p, d) => p * d, 1), entry.memoryOffset)
  entry.id = id
}

/** Runs `f` with `bytes` of scratch space from the backend's allocator, freed afterwards. */
export const withScratch = <R>(backend: WasmBackendLike, bytes: number, f: (ptr: number) => R): R => {
  const ptr = backend.wasm._malloc(bytes) >>> 0
  try {
    return f(ptr)
  } finally {
    backend.wasm._free(ptr)
  }
}
