/**
 * Shared machinery of the TensorFlow.js backend descriptors: load the package (which registers the
 * backend with tfjs), initialise it with `tf.setBackend`, and report failures as reasons.
 *
 * @module backends/tfjs
 */
import * as tf from '@tensorflow/tfjs-core'
import { probeInternals } from '../src/kernels/internalsProbe.js'
import { BackendUnavailableError } from '../src/core/errors.js'
import { tfOps } from '../src/core/tfOps.js'
import type { Availability, BackendDetails, BackendName, TfjsBackendDescriptor, Tolerance } from './descriptor.js'

/** What a tfjs backend descriptor needs to know. */
export interface TfjsBackendSpec {
  readonly name: Exclude<BackendName, 'reference'>
  readonly description: string
  readonly tolerance: Tolerance
  readonly syncReadback: boolean
  readonly cloneIsCopy: boolean
  /**
   * Imports the package that registers the backend. Resolves to a reason string when the backend
   * cannot run here (checked before tfjs tries, so the reason is precise), or `undefined`.
   */
  readonly load: () => Promise<string | undefined>
  /** Runs each time the backend is made active (after `tf.setBackend`). */
  readonly activated?: () => void
  /** Facts about the backend as it runs here (see `BackendDescriptor.details`). */
  readonly details?: () => Promise<BackendDetails>
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? ''

/** tfjs prints an advert for tfjs-node on first use of cpu in Node; polyak's `backends` table covers that. */
let quieted = false
const quietTfjs = (): void => {
  if (quieted) return
  quieted = true
  tf.env().set('PROD', true)
}

/** Builds a descriptor for a tfjs backend from its spec. */
export const tfjsBackend = (spec: TfjsBackendSpec): TfjsBackendDescriptor => {
  let loaded: Promise<Availability> | undefined
  const ensure = (): Promise<Availability> =>
    (loaded ??= (async (): Promise<Availability> => {
      quietTfjs()
      try {
        const reason = await spec.load()
        if (reason !== undefined) return { available: false, reason }
      } catch (e) {
        return { available: false, reason: messageOf(e) }
      }
      if (tf.findBackendFactory(spec.name) == null && tf.findBackend(spec.name) == null) {
        return { available: false, reason: `the package loaded but registered no '${spec.name}' backend with tfjs` }
      }
      const previous = tf.getBackend() as string | undefined
      try {
        // setBackend initialises the backend (async for wasm and webgpu) and resolves false on failure.
        const ok = await tf.setBackend(spec.name)
        if (!ok) return { available: false, reason: `tfjs could not initialise the '${spec.name}' backend` }
        await tf.ready()
      } catch (e) {
        return { available: false, reason: `tfjs could not initialise the '${spec.name}' backend: ${messageOf(e)}` }
      } finally {
        if (previous !== undefined && previous !== spec.name && tf.findBackend(previous) !== undefined) {
          await tf.setBackend(previous)
        }
      }
      return { available: true }
    })())

  return {
    name: spec.name,
    description: spec.description,
    tolerance: spec.tolerance,
    syncReadback: spec.syncReadback,
    cloneIsCopy: spec.cloneIsCopy,
    probe: ensure,
    activate: async () => {
      const a = await ensure()
      if (!a.available) throw new BackendUnavailableError(spec.name, a.reason)
      if (tf.getBackend() !== spec.name) {
        const ok = await tf.setBackend(spec.name)
        if (!ok) throw new BackendUnavailableError(spec.name, `tfjs could not initialise the '${spec.name}' backend`)
      }
      await tf.ready()
      spec.activated?.()
      // what tfjs's private members do, checked before polyak's kernels rely on them
      const probe = await probeInternals()
      if (!probe.ok) console.warn(`polyak: ${probe.reason}; polyak's fused kernels are off on '${spec.name}' (tfjs's own ops run instead)`)
      return tfOps
    },
    details: async () => {
      const a = await ensure()
      if (!a.available) return {}
      return (await spec.details?.()) ?? {}
    },
  }
}

/** Imports a package by a name TypeScript does not resolve at build time (optional peers). */
export const importOptional = (name: string): Promise<unknown> => import(name)
