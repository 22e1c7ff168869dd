/**
 * The `reference` backend: polyak's Float64 pure-JavaScript interpreter of the DSL. Slow and exact
 * (to float64), always available; it is the oracle every other backend is compared against.
 *
 * @module backends/reference
 */
import { TOLERANCES } from '../src/core/tolerance.js'
import { referenceOps } from '../src/core/referenceOps.js'
import type { ReferenceBackendDescriptor } from './descriptor.js'

/** Descriptor of the Float64 reference interpreter. */
export const reference: ReferenceBackendDescriptor = {
  name: 'reference',
  description: 'polyak Float64 reference interpreter (the oracle of the laws)',
  tolerance: TOLERANCES.reference,
  syncReadback: true,
  cloneIsCopy: true,
  probe: () => Promise.resolve({ available: true }),
  activate: () => Promise.resolve(referenceOps),
  details: () => Promise.resolve({ precision: 'float64, pure JavaScript' }),
}
