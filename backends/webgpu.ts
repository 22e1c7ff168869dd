/**
 * The `webgpu` backend: `@tensorflow/tfjs-backend-webgpu`. In a browser it uses the browser's
 * `navigator.gpu`. In Node it first installs `navigator.gpu` from the `webgpu` package (Dawn, the
 * WebGPU implementation of Chromium; an optional peer dependency), which drives the machine's
 * Vulkan driver: the vendor's on a GPU machine, or Mesa's lavapipe (software Vulkan on the CPU) on
 * a machine without one.
 *
 * tfjs-backend-webgpu registers itself only if `navigator.gpu` exists when it is imported, so the
 * order here matters: `navigator.gpu` first, then the tfjs package.
 *
 * @module backends/webgpu
 */
import * as tf from '@tensorflow/tfjs-core'
import { TOLERANCES } from '../src/core/tolerance.js'
import { backendInstantiated } from '../src/kernels/tfjsInternals.js'
import { host, missingPackage } from './host.js'
import { importOptional, tfjsBackend } from './tfjs.js'

const NODE_DRIVER_HINT =
  'install a Vulkan driver: on Debian 12 without a GPU, Mesa lavapipe from bookworm-backports ' +
  '(apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1; see README, "WebGPU without a GPU")'
const BROWSER_NO_GPU_HINT =
  'this browser has no WebGPU (navigator.gpu is missing): use a browser with WebGPU (Chrome or Edge 113+, ' +
  'Safari 26+, Firefox 141+ on Windows), served over https or from localhost; in Chromium on Linux start it ' +
  'with --enable-unsafe-webgpu --enable-features=Vulkan'
const BROWSER_NO_ADAPTER_HINT =
  'the browser exposes WebGPU but gave no adapter: the GPU or its driver may be blocklisted; check chrome://gpu, ' +
  'or in Chromium try --enable-unsafe-webgpu --enable-features=Vulkan (--use-angle=swiftshader runs it on the CPU)'

const noAdapterHint = (): string => (host() === 'node' ? NODE_DRIVER_HINT : BROWSER_NO_ADAPTER_HINT)

interface GpuAdapterInfoLike {
  readonly vendor?: string
  readonly architecture?: string
  readonly device?: string
  readonly description?: string
}
interface GpuAdapterLike {
  readonly info?: GpuAdapterInfoLike
  readonly isFallbackAdapter?: boolean
}
interface GpuNavigator {
  gpu?: { requestAdapter: (options?: unknown) => Promise<GpuAdapterLike | null> } | undefined
}

let installing: Promise<string | undefined> | undefined
let adapterInfo: GpuAdapterInfoLike | undefined

/**
 * Makes sure `globalThis.navigator.gpu` exists. In Node, creates it from the `webgpu` package.
 * Resolves to a reason (with the fix for this host) when that is impossible.
 */
const installNavigatorGpu = (): Promise<string | undefined> =>
  (installing ??= (async () => {
    const g = globalThis as { navigator?: GpuNavigator }
    if (g.navigator?.gpu !== undefined) return undefined
    if (host() === 'browser') return BROWSER_NO_GPU_HINT
    let dawn: { create: (flags: string[]) => unknown; globals: object }
    try {
      dawn = (await importOptional('webgpu')) as typeof dawn
    } catch (e) {
      return `WebGPU in Node needs Dawn from the optional package 'webgpu' (npm install webgpu), which could not be loaded: ${(e as Error).message.split('\n')[0]}`
    }
    Object.assign(globalThis, dawn.globals)
    if (g.navigator === undefined) {
      Object.defineProperty(globalThis, 'navigator', { value: {}, writable: true, configurable: true })
    }
    ;(g.navigator as GpuNavigator).gpu = dawn.create([]) as GpuNavigator['gpu']
    return undefined
  })())

interface GpuDeviceRequest {
  readonly features: { has(name: string): boolean }
  readonly limits: Record<string, number>
  readonly info?: unknown
  requestDevice(d: { requiredFeatures: string[]; requiredLimits: Record<string, number> }): Promise<unknown>
}

/** The device limits polyak asks for: tfjs's own (the adapter's best), and more storage buffers per shader for the multi-tensor kernels. */
const REQUESTED_LIMITS = [
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
  'maxStorageBuffersPerShaderStage',
] as const

let registeredHere = false

/**
 * Replaces tfjs-backend-webgpu's factory (which it registers on import) with one that makes the
 * same device (the same adapter preference, features and limits) but also asks for the adapter's
 * `maxStorageBuffersPerShaderStage`: WebGPU's default is 8 storage buffers per shader, Dawn offers
 * 16, and `axpbyMany` binds 3 per pair, so the limit sets how many tensors one teacher-update
 * dispatch covers (2 at the default, 5 with 16). Left alone once the backend exists: a device made
 * earlier (by tfjs, or by a user's own `tf.setBackend('webgpu')`) stays, and the kernels read its
 * limits.
 */
const registerFactory = (WebGPUBackend: new (device: unknown, info: unknown) => tf.KernelBackend): void => {
  registeredHere = true
  if (backendInstantiated('webgpu')) return
  tf.removeBackend('webgpu')
  tf.registerBackend(
    'webgpu',
    async () => {
      const gpu = (globalThis as { navigator?: GpuNavigator }).navigator?.gpu
      const preference = tf.env().getBool('WEBGPU_USE_LOW_POWER_GPU') ? 'low-power' : 'high-performance'
      const adapter = (await gpu?.requestAdapter({ powerPreference: preference })) as GpuDeviceRequest | null | undefined
      if (adapter === null || adapter === undefined) throw new Error(`no WebGPU adapter: ${noAdapterHint()}`)
      const requiredFeatures = ['timestamp-query', 'bgra8unorm-storage'].filter((f) => adapter.features.has(f))
      const requiredLimits = Object.fromEntries(REQUESTED_LIMITS.filter((k) => typeof adapter.limits[k] === 'number').map((k) => [k, adapter.limits[k]!]))
      const device = await adapter.requestDevice({ requiredFeatures, requiredLimits })
      return new WebGPUBackend(device, adapter.info)
    },
    3,
  )
}

/** Descriptor of the tfjs `webgpu` backend. */
export const webgpu = tfjsBackend({
  name: 'webgpu',
  description: "TensorFlow.js WebGPU kernels (@tensorflow/tfjs-backend-webgpu; the browser's WebGPU, or Dawn + Vulkan in Node)",
  tolerance: TOLERANCES.webgpu,
  syncReadback: false,
  cloneIsCopy: false,
  load: async () => {
    const missing = await installNavigatorGpu()
    if (missing !== undefined) return missing
    const gpu = (globalThis as { navigator?: GpuNavigator }).navigator?.gpu
    let adapter: GpuAdapterLike | null | undefined
    try {
      adapter = await gpu?.requestAdapter()
    } catch (e) {
      return `no WebGPU adapter (${(e as Error).message.split('\n')[0]}): ${noAdapterHint()}`
    }
    if (adapter === null || adapter === undefined) return `no WebGPU adapter: ${noAdapterHint()}`
    adapterInfo = adapter.info
    if (tf.findBackendFactory('webgpu') == null || !registeredHere) {
      let pkg: { WebGPUBackend: new (device: unknown, info: unknown) => tf.KernelBackend }
      try {
        // the package's types name WebGPUBackend's constructor with WebGPU's device types, which this module does not import; only its arity is used
        pkg = (await import('@tensorflow/tfjs-backend-webgpu')) as unknown as typeof pkg
      } catch (e) {
        return missingPackage('@tensorflow/tfjs-backend-webgpu', e)
      }
      registerFactory(pkg.WebGPUBackend)
    }
    return undefined
  },
  details: () => {
    const i = adapterInfo
    const adapter = [i?.vendor, i?.architecture, i?.device, i?.description].filter((s) => s !== undefined && s !== '').join(' / ')
    return Promise.resolve({ adapter: adapter === '' ? 'unnamed adapter' : adapter })
  },
})

/**
 * tfjs runs an op whose inputs are all small, CPU-resident tensors on the CPU (a latency
 * optimisation, flag `WEBGPU_CPU_FORWARD`). Laws and conformance tests want the GPU kernels:
 * `forceGpuKernels()` switches that forwarding off (`forceGpuKernels(false)` restores it).
 */
export const forceGpuKernels = async (on = true): Promise<void> => {
  const tf = await import('@tensorflow/tfjs-core')
  tf.env().set('WEBGPU_CPU_FORWARD', !on)
}
