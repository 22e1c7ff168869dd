/**
 * The `cpu` backend: `@tensorflow/tfjs-backend-cpu`, plain JavaScript kernels. Available wherever
 * its package is installed; the slowest of the tfjs backends here, but with synchronous readback
 * and O(1) `clone`.
 *
 * @module backends/cpu
 */
import { TOLERANCES } from '../src/core/tolerance.js'
import * as tf from '@tensorflow/tfjs-core'
import { missingPackage } from './host.js'
import { tfjsBackend } from './tfjs.js'

/** Descriptor of the tfjs `cpu` backend. */
export const cpu = tfjsBackend({
  name: 'cpu',
  description: 'TensorFlow.js plain-JavaScript kernels (@tensorflow/tfjs-backend-cpu)',
  tolerance: TOLERANCES.cpu,
  syncReadback: true,
  cloneIsCopy: false,
  load: async () => {
    if (tf.findBackendFactory('cpu') != null) return undefined // the app registered it already
    try {
      await import('@tensorflow/tfjs-backend-cpu')
    } catch (e) {
      return missingPackage('@tensorflow/tfjs-backend-cpu', e)
    }
    return undefined
  },
})
