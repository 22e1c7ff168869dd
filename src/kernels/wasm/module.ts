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
import { KERNELS_WASM_BASE64, KERNELS_WASM_IMPORT_RANGE, KERNELS_WASM_SHARED_IMPORT_BASE64 } from './binary.generated.js'
import { type WasmBackendLike, activeWasmBackend, wasmMemoryOf } from '../tfjsInternals.js'

/** The exports of `assembly/kernels.ts` (pointers are byte offsets into the backend's memory). */
export interface WasmKernelExports {
  axpby(out: number, x: number, y: number, n: number, alpha: number, beta: number): void
  moments(x: number, a: number, c: number, b: number, mean: number, variance: number, scratch: number): void
  normalize(x: number, a: number, c: number, b: number, center: number, scale: number, offset: number, out: number): void
  normalizeGradSums(dy: number, x: number, a: number, c: number, b: number, center: number, sumDy: number, sumDyCentered: number, scratch: number): void
  im2colT(
    x: number,
    n: number,
    h: number,
    w: number,
    ci: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    top: number,
    left: number,
    oh: number,
    ow: number,
    out: number,
  ): void
  reluGrad(out: number, dy: number, x: number, n: number): void
  avgPool2(x: number, n: number, h: number, w: number, c: number, out: number): void
  avgPool2Grad(dy: number, n: number, h: number, w: number, c: number, out: number): void
  matMulFewRows(a: number, b: number, m: number, k: number, n: number, out: number): void
  packConvFilter(f: number, taps: number, C: number, O: number, transposed: number, out: number): void
  conv2dTableBytes(taps: number): number
  conv2d(
    x: number,
    n: number,
    h: number,
    w: number,
    C: number,
    packed: number,
    kh: number,
    kw: number,
    O: number,
    sh: number,
    sw: number,
    top: number,
    left: number,
    oh: number,
    ow: number,
    transposed: number,
    zeros: number,
    ptrs: number,
    out: number,
  ): void
  convFilterGrad(
    x: number,
    n: number,
    h: number,
    w: number,
    ci: number,
    dy: number,
    oh: number,
    ow: number,
    co: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    top: number,
    left: number,
    runs: number,
    out: number,
  ): void
  convFilterGradChunkRows(ow: number, co: number): number
}

/** `() => kernel` where this process can instantiate the module on the active wasm backend, else `() => undefined` (for `defineKernel`). */
export const onWasm =
  <K>(kernel: K) =>
  (): K | undefined =>
    wasmKernels(activeWasmBackend()) === null ? undefined : kernel

export type { WasmBackendLike } from '../tfjsInternals.js'
export { activeWasmBackend }

/** The two builds of the kernels: for a plain memory, and for the shared memory of tfjs-wasm's threaded build. */
type Variant = 'plain' | 'shared'
const compiled: Partial<Record<Variant, WebAssembly.Module | null>> = {}
const compileErrors: Partial<Record<Variant, string>> = {}
const instances = new WeakMap<object, WasmKernelExports | null>()
let lastStatus: WasmKernelStatus = { on: false, reason: 'the wasm backend has not been used yet' }

const decode = (base64: string): Uint8Array<ArrayBuffer> => Uint8Array.from(atob(base64), (ch) => ch.charCodeAt(0))

/** The plain binary, or the shared one: the plain binary with the shared build's import section spliced in (the build checks that this is the shared build, byte for byte). */
const binary = (v: Variant): Uint8Array<ArrayBuffer> => {
  const plain = decode(KERNELS_WASM_BASE64)
  if (v === 'plain') return plain
  const [start, end] = KERNELS_WASM_IMPORT_RANGE
  const imports = decode(KERNELS_WASM_SHARED_IMPORT_BASE64)
  const out = new Uint8Array(plain.length - (end - start) + imports.length)
  out.set(plain.subarray(0, start))
  out.set(imports, start)
  out.set(plain.subarray(end), start + imports.length)
  return out
}
const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? ''

const compile = (v: Variant): WebAssembly.Module | null => {
  if (compiled[v] === undefined) {
    try {
      compiled[v] = new WebAssembly.Module(binary(v))
    } catch (e) {
      compiled[v] = null // no WebAssembly SIMD (or a browser's main thread refusing a synchronous compile): the composed ops stay in use
      compileErrors[v] = messageOf(e)
    }
  }
  return compiled[v] ?? null
}

/**
 * Compiles both builds of the kernels asynchronously, ahead of their first use: browsers refuse
 * synchronous compiles of modules over 4 KB on the main thread. `useBackend('wasm')` calls it;
 * where compiling fails, the composed tfjs ops stay in use and `wasmKernelStatus()` says why.
 */
export const prepareWasmKernels = async (): Promise<void> => {
  for (const v of ['plain', 'shared'] as const) {
    if (compiled[v] !== undefined) continue
    try {
      compiled[v] = await WebAssembly.compile(binary(v))
    } catch (e) {
      compiled[v] = null
      compileErrors[v] = messageOf(e)
    }
  }
}

/** Whether polyak's SIMD kernels run on the active wasm backend, on which tfjs-wasm build, and if not, why. */
export interface WasmKernelStatus {
  readonly on: boolean
  /** `plain` for tfjs-wasm's single-threaded builds, `shared` for its threaded build (cross-origin-isolated pages). */
  readonly memory?: Variant
  readonly reason?: string
}

/** The state of polyak's wasm kernels as of the last time the wasm backend was asked for them. */
export const wasmKernelStatus = (): WasmKernelStatus => lastStatus

/**
 * The kernels instantiated on `backend`'s memory (the shared-memory build when tfjs runs its
 * threaded build), or `null` where that is impossible (no SIMD); callers then keep the composed
 * ops, and `wasmKernelStatus()` reports the reason: the kernels are never off silently.
 */
export const wasmKernels = (backend: WasmBackendLike): WasmKernelExports | null => {
  const memory = wasmMemoryOf(backend)
  if (memory === undefined) {
    lastStatus = { on: false, reason: 'this tfjs-wasm build exposes no memory polyak can find (neither asm.memory nor wasmMemory)' }
    return null
  }
  let exports = instances.get(memory)
  if (exports === undefined) {
    const variant: Variant = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer ? 'shared' : 'plain'
    const module = compile(variant)
    try {
      // the module is polyak's own (assembly/kernels.ts): its exports are exactly the functions WasmKernelExports lists
      exports = module === null ? null : (new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as WasmKernelExports)
      lastStatus =
        exports === null
          ? { on: false, memory: variant, reason: `the kernels did not compile: ${compileErrors[variant] ?? 'unknown error'}` }
          : { on: true, memory: variant }
    } catch (e) {
      exports = null
      lastStatus = { on: false, memory: variant, reason: `the kernels did not instantiate on the ${variant} memory: ${messageOf(e)}` }
    }
    instances.set(memory, exports)
  } else {
    lastStatus =
      exports === null
        ? lastStatus
        : { on: true, memory: typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer ? 'shared' : 'plain' }
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
  backend.wasm.tfjs.registerTensor(
    id,
    t.shape.reduce((p, d) => p * d, 1),
    entry.memoryOffset,
  )
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
