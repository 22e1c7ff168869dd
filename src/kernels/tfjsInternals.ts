/**
 * The one place that knows tfjs's private members: every field of a tfjs backend object (or of the
 * engine) that polyak reads or writes and tfjs does not document is typed here, once per backend,
 * and reached through the accessors below. The rest of polyak imports these types and accessors and
 * never casts a tfjs object itself.
 *
 * What is used, per backend:
 * - cpu (`MathBackendCPU`): `data.get(id).values` (a tensor's typed array), `makeTensorInfo`, `refCount`, `incRef`;
 * - wasm (`BackendWasm`): `wasm` (its Emscripten module: memory, `_malloc`, `_free`, `tfjs.registerTensor`,
 *   `tfjs.disposeData`), `dataIdMap.get(id)` (a tensor's id and byte offset), `dataIdNextNumber`,
 *   `makeOutput`, `refCount`, `incRef`;
 * - webgpu (`WebGPUBackend`): `device`, `tensorMap`, the command and compute-pass encoders, the
 *   queue-owned set, the dispatch count, the profiling timers and query set, and eight methods
 *   (`WebGpuInternals`); `runWebGPUProgram` and `disposeData` for programs run through tfjs;
 * - the engine: `registry` (the backend instances, looked at without creating one).
 *
 * These were checked against `@tensorflow/tfjs-*` 4.22 (`TESTED_TFJS`, the peer range in
 * package.json). On another tfjs version `internalsAllowed()` is false: the fused kernels switch off
 * with one warning and the composed tfjs ops run instead, rather than misbehaving. Behavioural
 * probes (`kernels/internalsProbe`) check at run time that what the types say is what the objects do.
 *
 * @module kernels/tfjsInternals
 */
import * as tf from '@tensorflow/tfjs-core'

/** The tfjs versions the private members above were checked against (the peer range in package.json). */
export const TESTED_TFJS = '~4.22.0'

/** Whether `version` is in `TESTED_TFJS`. */
export const isTestedTfjs = (version: string): boolean => /^4\.22\.\d+$/.test(version)

let version: string | undefined
/** The verdict on the tfjs version, decided once: every fused kernel's `available()` asks, on every op. */
let tested: boolean | undefined
let warned = false
/** Backends whose behavioural probe failed in this process (`markProbeFailed`). */
const failed = new Map<string, string>()

/** Records that the probe of `backend` failed (`reason`): its fused kernels stay off in this process. */
export const markProbeFailed = (backend: string, reason: string | undefined): void => {
  if (reason === undefined) failed.delete(backend)
  else failed.set(backend, reason)
}

/**
 * Whether polyak may use tfjs's private members in this process, on the active backend: true on a
 * tested tfjs (`tf.version_core` in `TESTED_TFJS`) where the backend's probe has not failed. On an
 * untested tfjs, false, and one warning says so: the fused kernels are off and tfjs's own ops run.
 */
export const internalsAllowed = (): boolean => {
  const v = version ?? tf.version_core
  tested ??= isTestedTfjs(v)
  if (tested) return failed.size === 0 || !failed.has(tf.getBackend())
  if (!warned) {
    warned = true
    console.warn(
      `polyak: @tensorflow/tfjs-core ${v} is outside the versions polyak's fused kernels were checked against (${TESTED_TFJS}); ` +
        "they are off and tfjs's own ops run instead (correct, slower)",
    )
  }
  return false
}

/** Makes `internalsAllowed` judge `v` instead of the installed tfjs (`undefined` restores it); for tests of the version guard. */
export const assumeTfjsVersion = (v: string | undefined): void => {
  version = v
  tested = undefined
  warned = false
}

// ------------------------------------------------------------------------------------------------
// cpu

/** The members of tfjs-backend-cpu's `MathBackendCPU` polyak uses (storage is a typed array per tensor). */
export interface CpuBackendLike {
  data: { get: (id: unknown) => { values: Float32Array } }
  makeTensorInfo: (shape: number[], dtype: 'float32', values: Float32Array) => tf.TensorInfo
  refCount: (id: unknown) => number
  incRef: (id: unknown) => void
}

// ------------------------------------------------------------------------------------------------
// wasm

/** The members of tfjs-backend-wasm's `BackendWasm` polyak uses. */
export interface WasmBackendLike {
  readonly wasm: {
    /** The memory the single-threaded builds export. */
    readonly asm?: { readonly memory?: WebAssembly.Memory }
    /** The shared memory of the threaded build (created by its JS, imported by the module). */
    readonly wasmMemory?: WebAssembly.Memory
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

/** The memory of a tfjs-wasm backend: the single-threaded builds export it (`asm.memory`); the threaded build imports a shared one (`wasmMemory`). */
export const wasmMemoryOf = (backend: WasmBackendLike): WebAssembly.Memory | undefined => backend.wasm.asm?.memory ?? backend.wasm.wasmMemory

// ------------------------------------------------------------------------------------------------
// webgpu

/* The WebGPU types used, structurally (polyak compiles without the DOM's WebGPU typings). */
/** A `GPUBuffer`, as far as polyak uses it. */
export interface GpuBufferLike {
  readonly size: number
}
/** A `GPUComputePipeline`. */
export interface GpuPipelineLike {
  getBindGroupLayout(index: number): unknown
}
/** A `GPUComputePassEncoder`. */
export interface GpuPassLike {
  setPipeline(p: GpuPipelineLike): void
  setBindGroup(index: number, group: unknown): void
  dispatchWorkgroups(x: number, y?: number, z?: number): void
}
/** A `GPUDevice`. */
export interface GpuDeviceLike {
  readonly limits: { readonly maxStorageBuffersPerShaderStage: number; readonly maxComputeWorkgroupsPerDimension: number }
  createShaderModule(d: { code: string }): unknown
  createComputePipeline(d: { layout: 'auto'; compute: { module: unknown; entryPoint: string } }): GpuPipelineLike
  createBindGroup(d: { layout: unknown; entries: Array<{ binding: number; resource: unknown }> }): unknown
  createQuerySet(d: { type: 'timestamp'; count: number }): unknown
  readonly queue: { onSubmittedWorkDone(): Promise<unknown> }
}
interface TensorDataLike {
  resource: unknown
  values: unknown
  refCount: number
}

/** The part of tfjs-backend-webgpu's `WebGPUBackend` that tfjs's program runner offers: polyak's WGSL programs run through it. */
export interface WebGpuBackendLike {
  runWebGPUProgram: (program: unknown, inputs: tf.TensorInfo[], dtype: 'float32', uniforms: Array<{ type: string; data: number[] }>) => tf.TensorInfo
  /** Releases an intermediate (deferred by the backend until the queued programs that read it have run). */
  disposeData: (dataId: unknown) => void
}

/** The members of `WebGPUBackend` that polyak's own dispatches (`kernels/webgpuDispatch`) use. */
export interface WebGpuInternals {
  readonly device: GpuDeviceLike
  readonly tensorMap: { get(id: unknown): TensorDataLike | undefined }
  commandEncoder: {
    beginComputePass(d: object): GpuPassLike
    copyBufferToBuffer(src: GpuBufferLike, srcOffset: number, dst: GpuBufferLike, dstOffset: number, size: number): void
  } | null
  computePassEncoder: (GpuPassLike & { end(): void }) | null
  commandQueueOwnedIds: { add(id: object): void }
  dispatchCountInPass: number
  activeTimers: Array<{ name: string; query: Promise<number> }> | null | undefined
  readonly supportTimestampQuery: boolean
  querySet: unknown
  readonly querySetCount: number
  makeTensorInfo(shape: number[], dtype: 'float32', values?: Float32Array): tf.TensorInfo
  uploadToGPU(dataId: unknown): void
  makeUniforms(u: Array<{ type: 'float32' | 'int32' | 'uint32'; data: number[] }>): { buffer: unknown; offset: number; size: number }
  ensureCommandEncoderReady(): void
  endComputePassEncoder(): void
  submitQueue(): void
  getQueryTime(): Promise<number>
  refCount(dataId: unknown): number
  incRef(dataId: unknown): void
}

const WEBGPU_METHODS = [
  'makeTensorInfo',
  'uploadToGPU',
  'makeUniforms',
  'ensureCommandEncoderReady',
  'endComputePassEncoder',
  'submitQueue',
  'getQueryTime',
  'refCount',
  'incRef',
] as const

// ------------------------------------------------------------------------------------------------
// the accessors: the only casts from tfjs's public types to the ones above

/** A backend object as the members of one tfjs backend (`KernelBackends[B]`). */
export interface KernelBackends {
  readonly cpu: CpuBackendLike
  readonly wasm: WasmBackendLike
  readonly webgpu: WebGpuBackendLike
}

/** `backend`, which tfjs hands a kernel as its public `KernelBackend`, as the members polyak uses on backend `B`. */
// the one cast of a tfjs backend object: the backend that runs a kernel registered for B is B's class
export const backendAs = <B extends keyof KernelBackends>(_name: B, backend: unknown): KernelBackends[B] => backend as KernelBackends[B]

/** The active tfjs backend as the wasm kernels read it (call only while wasm is active). */
export const activeWasmBackend = (): WasmBackendLike => backendAs('wasm', tf.backend())

/**
 * `backend` as `WebGpuInternals` when it has every member polyak's dispatches use, else `undefined`
 * (and `undefined` on an untested tfjs). What the members do is checked by `probeInternals`.
 */
export const webgpuInternals = (backend: unknown): WebGpuInternals | undefined => {
  if (!internalsAllowed()) return undefined
  const b = backend as Partial<Record<string, unknown>> | null
  if (b === null || typeof b !== 'object') return undefined
  const ok =
    WEBGPU_METHODS.every((m) => typeof b[m] === 'function') &&
    typeof (b.device as GpuDeviceLike | undefined)?.createComputePipeline === 'function' &&
    typeof (b.tensorMap as { get?: unknown } | undefined)?.get === 'function' &&
    typeof (b.commandQueueOwnedIds as { add?: unknown } | undefined)?.add === 'function' &&
    typeof b.dispatchCountInPass === 'number' &&
    'commandEncoder' in b &&
    'computePassEncoder' in b
  return ok ? (backend as WebGpuInternals) : undefined
}

/** Whether the engine already holds an instance of backend `name`, found without creating one (`tf.findBackend` would create it). */
export const backendInstantiated = (name: string): boolean => (tf.engine() as unknown as { registry: Record<string, unknown> }).registry[name] !== undefined
