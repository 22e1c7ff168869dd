/**
 * The `cpu` backend: `@tensorflow/tfjs-backend-cpu`, plain JavaScript kernels. Always available;
 * the slowest of the tfjs backends here, but with synchronous readback and O(1) `clone`.
 *
 * @module backends/cpu
 */
import { tfjsBackend } from './tfjs.js'

/** Descriptor of the tfjs `cpu` backend. */
export const cpu = tfjsBackend({
  name: 'cpu',
  description: 'TensorFlow.js plain-JavaScript kernels (@tensorflow/tfjs-backend-cpu)',
  tolerance: { rtol: 1e-5, atol: 1e-6 },
  syncReadback: true,
  cloneIsCopy: false,
  load: async () => {
    await import('@tensorflow/tfjs-backend-cpu')
    return undefined
  },
})
