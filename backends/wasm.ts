/**
 * The `wasm` backend: `@tensorflow/tfjs-backend-wasm` (XNNPACK, SIMD; tfjs disables its threads in
 * Node, so it runs on one core). The fastest CPU backend here for most ops. `clone` copies.
 *
 * @module backends/wasm
 */
import { prepareWasmKernels } from '../src/kernels/wasm/module.js'
import { tfjsBackend } from './tfjs.js'

/** Descriptor of the tfjs `wasm` backend. */
export const wasm = tfjsBackend({
  name: 'wasm',
  description: 'TensorFlow.js WebAssembly kernels with SIMD (@tensorflow/tfjs-backend-wasm)',
  tolerance: { rtol: 1e-5, atol: 1e-6 },
  syncReadback: true,
  cloneIsCopy: true,
  load: async () => {
    if (typeof WebAssembly === 'undefined') return 'this JavaScript engine has no WebAssembly'
    await import('@tensorflow/tfjs-backend-wasm')
    await prepareWasmKernels() // polyak's SIMD kernels, compiled ahead of first use
    return undefined
  },
})
