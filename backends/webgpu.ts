/**
 * The `webgpu` backend: `@tensorflow/tfjs-backend-webgpu`. In a browser it uses the browser's
 * `navigator.gpu`. In Node it first installs `navigator.gpu` from the `webgpu` package (Dawn, the
 * WebGPU implementation of Chromium), which drives the machine's Vulkan driver: the vendor's on a
 * GPU machine, or Mesa's lavapipe (software Vulkan on the CPU) on a machine without one.
 *
 * tfjs-backend-webgpu registers itself only if `navigator.gpu` exists when it is imported, so the
 * order here matters: Dawn first, then the tfjs package.
 *
 * @module backends/webgpu
 */
import { importOptional, tfjsBackend } from './tfjs.js'

const LAVAPIPE_HINT =
  'install a Vulkan driver: on Debian 12 without a GPU, Mesa lavapipe from bookworm-backports ' +
  '(apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1; see README, "WebGPU without a GPU")'

interface GpuNavigator {
  gpu?: { requestAdapter: (options?: unknown) => Promise<unknown> } | undefined
}

let installing: Promise<string | undefined> | undefined

/**
 * Makes sure `globalThis.navigator.gpu` exists. In Node, creates it from the `webgpu` package.
 * Resolves to a reason when that is impossible.
 */
const installNavigatorGpu = (): Promise<string | undefined> =>
  (installing ??= (async () => {
    const g = globalThis as { navigator?: GpuNavigator; process?: { versions?: { node?: string } } }
    if (g.navigator?.gpu !== undefined) return undefined
    if (g.process?.versions?.node === undefined) {
      return 'this browser has no WebGPU (navigator.gpu is missing); use a browser with WebGPU enabled'
    }
    let dawn: { create: (flags: string[]) => unknown; globals: object }
    try {
      dawn = (await importOptional('webgpu')) as typeof dawn
    } catch (e) {
      return `the 'webgpu' package (Dawn for Node) could not be loaded: ${(e as Error).message.split('\n')[0]}; ${LAVAPIPE_HINT}`
    }
    Object.assign(globalThis, dawn.globals)
    if (g.navigator === undefined) {
      Object.defineProperty(globalThis, 'navigator', { value: {}, writable: true, configurable: true })
    }
    ;(g.navigator as GpuNavigator).gpu = dawn.create([]) as GpuNavigator['gpu']
    return undefined
  })())

/** Descriptor of the tfjs `webgpu` backend. */
export const webgpu = tfjsBackend({
  name: 'webgpu',
  description: 'TensorFlow.js WebGPU kernels (@tensorflow/tfjs-backend-webgpu; Dawn + Vulkan in Node)',
  // GPU transcendental functions (exp, log, inverseSqrt) are allowed a few ulp by the WGSL spec.
  tolerance: { rtol: 1e-4, atol: 1e-5 },
  syncReadback: false,
  cloneIsCopy: false,
  load: async () => {
    const missing = await installNavigatorGpu()
    if (missing !== undefined) return missing
    const gpu = (globalThis as { navigator?: GpuNavigator }).navigator?.gpu
    let adapter: unknown
    try {
      adapter = await gpu?.requestAdapter()
    } catch (e) {
      return `no WebGPU adapter (${(e as Error).message.split('\n')[0]}): ${LAVAPIPE_HINT}`
    }
    if (adapter === null || adapter === undefined) return `no WebGPU adapter: ${LAVAPIPE_HINT}`
    await import('@tensorflow/tfjs-backend-webgpu')
    return undefined
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
