/**
 * The `wasm` backend: `@tensorflow/tfjs-backend-wasm` (XNNPACK, SIMD). The fastest CPU backend
 * here for most ops. `clone` copies.
 *
 * Where its `.wasm` files come from: in Node, from the installed package; in a browser, tfjs fetches
 * them relative to the page unless told otherwise, so an app serves them (they ship in the
 * package's `dist/`) and names the place with `wasmPaths('/assets/tfjs-wasm/')` (or a map per file)
 * before `useBackend('wasm')`.
 *
 * Threads: tfjs picks its threaded build on a cross-origin-isolated page (COOP/COEP headers) and
 * the single-threaded SIMD build elsewhere; in Node it never uses threads. polyak's own SIMD
 * kernels run on both builds; `wasmThreads(false)` forces the single-threaded one.
 * `wasm.details()` reports the build and whether polyak's kernels are on, and why not.
 *
 * @module backends/wasm
 */
import { TOLERANCES } from '../src/core/tolerance.js'
import * as tf from '@tensorflow/tfjs-core'
import { prepareWasmKernels, wasmKernelStatus, wasmKernels } from '../src/kernels/wasm/module.js'
import { activeWasmBackend, backendAs, internalsAllowed } from '../src/kernels/tfjsInternals.js'
import { missingPackage } from './host.js'
import { tfjsBackend } from './tfjs.js'

/** The `.wasm` files of tfjs-backend-wasm, as `setWasmPaths` names them. */
export type WasmBinaryName = 'tfjs-backend-wasm.wasm' | 'tfjs-backend-wasm-simd.wasm' | 'tfjs-backend-wasm-threaded-simd.wasm'

let paths: string | Partial<Record<WasmBinaryName, string>> | undefined
let threads: boolean | undefined

/**
 * Where the browser should fetch tfjs-wasm's `.wasm` files from: a folder prefix ending in `/`
 * (e.g. `'/assets/tfjs-wasm/'`) or a URL per file. Call before `useBackend('wasm')`; in Node the
 * installed package's files are used and this is not needed.
 *
 * @example
 * wasmPaths('/tfjs-wasm/')           // serve node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm there
 * await unsafeUseBackend('wasm')
 */
export const wasmPaths = (prefixOrFiles: string | Partial<Record<WasmBinaryName, string>>): void => {
  paths = prefixOrFiles
}

/**
 * `false` makes tfjs use its single-threaded SIMD build even on a cross-origin-isolated page; `true`
 * (or never calling this) leaves the choice to tfjs. Call before `useBackend('wasm')`.
 */
export const wasmThreads = (on: boolean): void => {
  threads = on
}

const PACKAGE = '@tensorflow/tfjs-backend-wasm'

/**
 * tfjs-wasm's `Identity` copies its input; tfjs-cpu's and tfjs-webgpu's share the storage and count
 * a reference. Every kernel with a gradient runs `Identity` on the tensors the tape saves (57 of the
 * 81 copies in a conv-net train step), so on wasm polyak registers the sharing one: tensors are
 * immutable, and polyak's only in-place write (a donated `axpby`) refuses storage with more than
 * one reference. Run once, after tfjs-wasm has registered its kernels.
 */
const shareStorageOnIdentity = (): void => {
  if (!internalsAllowed()) return
  const current = tf.getKernel('Identity', 'wasm')
  if (current === undefined || (current.kernelFunc as { polyak?: true }).polyak === true) return
  const kernelFunc = Object.assign(
    ({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: unknown }) => {
      const x = inputs.x!
      backendAs('wasm', backend).incRef(x.dataId)
      return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype }
    },
    { polyak: true as const },
  )
  tf.unregisterKernel('Identity', 'wasm')
  // kernelFunc reads the wasm backend's members (WasmBackendLike); tfjs calls it with its public KernelBackend type
  tf.registerKernel({ kernelName: 'Identity', backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc })
}

/** Descriptor of the tfjs `wasm` backend. */
export const wasm = tfjsBackend({
  name: 'wasm',
  description: 'TensorFlow.js WebAssembly kernels with SIMD (@tensorflow/tfjs-backend-wasm)',
  tolerance: TOLERANCES.wasm,
  syncReadback: true,
  cloneIsCopy: false,
  load: async () => {
    if (typeof WebAssembly === 'undefined') return 'this JavaScript engine has no WebAssembly'
    let module: { setWasmPaths?: (p: string | Partial<Record<WasmBinaryName, string>>) => void } | undefined
    try {
      module = (await import('@tensorflow/tfjs-backend-wasm')) as typeof module
    } catch (e) {
      if (tf.findBackendFactory('wasm') == null) return missingPackage(PACKAGE, e)
    }
    if (paths !== undefined) module?.setWasmPaths?.(paths)
    if (threads === false) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false)
    await prepareWasmKernels() // polyak's SIMD kernels, compiled ahead of first use
    shareStorageOnIdentity()
    return undefined
  },
  activated: () => {
    // instantiate polyak's kernels now, so that their state is known (and reported) before first use
    wasmKernels(activeWasmBackend())
  },
  details: async () => {
    const threaded = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')
    const k = wasmKernelStatus()
    return {
      build: threaded === true ? 'threaded SIMD (cross-origin isolated)' : 'single-threaded SIMD',
      'polyak kernels': k.on ? `on (${k.memory} memory)` : `off: ${k.reason ?? 'unknown'}`,
    }
  },
})
