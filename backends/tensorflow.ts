/**
 * The `tensorflow` backend: `@tensorflow/tfjs-node-gpu` (CUDA) or `@tensorflow/tfjs-node` (CPU),
 * both of which register under the tfjs name `tensorflow`. They are optional peer dependencies and
 * are loaded only when asked for: their install script downloads libtensorflow from Google's
 * storage (outside the npm registry), which fails on machines without that access and has been
 * broken upstream for some versions (tfjs issues #8611, #8742); the GPU build also needs CUDA 11.2
 * and cuDNN 8.1.
 *
 * @module backends/tensorflow
 */
import { TOLERANCES } from '../src/core/tolerance.js'
import { importOptional, tfjsBackend } from './tfjs.js'

const PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const

/** Descriptor of the tfjs `tensorflow` backend (tfjs-node-gpu, else tfjs-node). */
export const tensorflow = tfjsBackend({
  name: 'tensorflow',
  description: 'TensorFlow C library through @tensorflow/tfjs-node-gpu (CUDA) or @tensorflow/tfjs-node (optional peers)',
  tolerance: TOLERANCES.tensorflow,
  syncReadback: true,
  cloneIsCopy: false,
  load: async () => {
    const errors: string[] = []
    for (const pkg of PACKAGES) {
      try {
        await importOptional(pkg)
        return undefined
      } catch (e) {
        const msg = (e as Error).message.split('\n')[0] ?? ''
        const notFound = (e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' || /Cannot find (package|module)|Could not resolve/.test(msg)
        errors.push(notFound ? `${pkg} is not installed` : `${pkg} failed to load: ${msg}`)
      }
    }
    return (
      `${errors.join('; ')}. Install one with 'npm install @tensorflow/tfjs-node-gpu' (CUDA 11.2 + cuDNN 8.1) ` +
      `or 'npm install @tensorflow/tfjs-node'; their install downloads libtensorflow from Google's storage ` +
      `(set TFJS_NODE_CDN_STORAGE to use a mirror), see README`
    )
  },
})
