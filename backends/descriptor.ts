/**
 * What polyak knows about a backend: its name in the TensorFlow.js registry (or `reference`), how to
 * load it, how to tell whether it can run here (and if not, why and how to get it), and the
 * numerical facts tests and laws need (tolerance against the Float64 reference, synchronous
 * readback, whether `clone` copies).
 *
 * @module backends/descriptor
 */
import type * as tf from '@tensorflow/tfjs-core'
import type { Ops } from '../src/core/ops.js'
import type { RefTensor } from '../src/core/referenceOps.js'
import type { Leaf } from '../src/core/tree.js'

/** The backends polyak ships descriptors for. */
export type BackendName = 'cpu' | 'wasm' | 'webgpu' | 'tensorflow' | 'reference'

import type { Tolerance } from '../src/core/tolerance.js'

export type { Tolerance }

/** Whether a backend can run here, and if not, why and how to get it. */
export type Availability = { readonly available: true } | { readonly available: false; readonly reason: string }

/** Facts about a backend as it runs here, for people: e.g. the WebGPU adapter, the tfjs-wasm build and whether polyak's kernels are on. */
export type BackendDetails = Readonly<Record<string, string>>

/** A backend made active: its descriptor and the interpreter to write math against. */
export interface ActiveBackend<T extends Leaf = Leaf> {
  readonly descriptor: BackendDescriptor<T>
  readonly ops: Ops<T>
}

/** Describes one backend. */
export interface BackendDescriptor<T extends Leaf = Leaf> {
  /** tfjs registry name (`'tensorflow'` for tfjs-node and tfjs-node-gpu), or `'reference'`. */
  readonly name: BackendName
  /** One line for people. */
  readonly description: string
  /** Tolerance of one float32 elementwise op against the Float64 reference. */
  readonly tolerance: Tolerance
  /** True when `readSync` works (webgpu in Node has no synchronous readback). */
  readonly syncReadback: boolean
  /** True when `clone` copies the data (wasm); false when it only bumps a reference count. */
  readonly cloneIsCopy: boolean
  /**
   * Loads the backend's package and checks that it can run here, without leaving it active.
   * Never rejects: failures come back as `{available: false, reason}`.
   */
  readonly probe: () => Promise<Availability>
  /** Makes the backend active and returns its interpreter. Rejects with the reason when unavailable. */
  readonly activate: () => Promise<Ops<T>>
  /** Facts about the backend here (empty when unavailable); after `activate` for the facts that need it. */
  readonly details: () => Promise<BackendDetails>
}

/** Descriptor of a TensorFlow.js backend. */
export type TfjsBackendDescriptor = BackendDescriptor<tf.Tensor>
/** Descriptor of the Float64 reference interpreter. */
export type ReferenceBackendDescriptor = BackendDescriptor<RefTensor>
