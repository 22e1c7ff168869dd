/**
 * The backends polyak knows, looked up by name, made active with `useBackend`.
 *
 * @example
 * import { useBackend } from 'polyak/backends'
 * const result = await useBackend('wasm')()              // Either<PolyakError, ActiveBackend>
 * const backend = await unsafeUseBackend('wasm')         // or throw
 *
 * @module polyak/backends
 */
import * as E from 'fp-ts/lib/Either.js'
import type * as TE from 'fp-ts/lib/TaskEither.js'
import { BackendUnavailableError, PolyakError, UnknownBackendError } from '../src/core/errors.js'
import { cpu } from './cpu.js'
import type { ActiveBackend, Availability, BackendDescriptor, BackendName } from './descriptor.js'
import { reference } from './reference.js'
import { tensorflow } from './tensorflow.js'
import { wasm, wasmPaths, wasmThreads } from './wasm.js'
import { forceGpuKernels, webgpu } from './webgpu.js'

export type {
  Availability,
  ActiveBackend,
  BackendDescriptor,
  BackendDetails,
  BackendName,
  ReferenceBackendDescriptor,
  TfjsBackendDescriptor,
  Tolerance,
} from './descriptor.js'
export { cpu, forceGpuKernels, reference, tensorflow, wasm, wasmPaths, wasmThreads, webgpu }
export type { WasmBinaryName } from './wasm.js'
export { type Host, host } from './host.js'

/** Every backend polyak ships a descriptor for, fastest-first among those usually available. */
export const backends: readonly BackendDescriptor[] = [wasm, webgpu, cpu, tensorflow, reference] as const

/** The names of all known backends. */
export const backendNames: readonly BackendName[] = backends.map((b) => b.name)

/** The descriptor of backend `name`, or an `UnknownBackendError` listing the known names. */
export const getBackend = (name: string): E.Either<PolyakError, BackendDescriptor> => {
  const d = backends.find((b) => b.name === name)
  return d === undefined ? E.left(new UnknownBackendError(name, backendNames)) : E.right(d)
}

/**
 * Makes backend `name` active (loads its package, initialises it) and returns its interpreter.
 * Fails with `UnknownBackendError` for a name polyak does not know and `BackendUnavailableError`
 * (whose message says why and how to get it) for one that cannot run here.
 */
export const useBackend =
  (name: string): TE.TaskEither<PolyakError, ActiveBackend> =>
  async () => {
    const d = getBackend(name)
    if (E.isLeft(d)) return d
    const descriptor = d.right
    try {
      const ops = await descriptor.activate()
      return E.right({ descriptor, ops })
    } catch (e) {
      if (e instanceof PolyakError) return E.left(e)
      return E.left(new BackendUnavailableError(name, e instanceof Error ? e.message : String(e)))
    }
  }

/** `useBackend` that throws the error instead of returning it. */
export const unsafeUseBackend = async (name: string): Promise<ActiveBackend> => {
  const r = await useBackend(name)()
  if (E.isLeft(r)) throw r.left
  return r.right
}

/** One row of the availability report. */
export interface BackendStatus {
  readonly name: BackendName
  readonly available: boolean
  readonly reason?: string
  readonly description: string
}

/** Probes every backend (loading each package) and reports which can run here and why not. */
export const probeBackends = async (): Promise<BackendStatus[]> => {
  const out: BackendStatus[] = []
  for (const b of backends) {
    const a: Availability = await b.probe()
    out.push(
      a.available
        ? { name: b.name, available: true, description: b.description }
        : { name: b.name, available: false, reason: a.reason, description: b.description },
    )
  }
  return out
}

/** The first available backend in `backends` order (wasm, webgpu, cpu, tensorflow, reference). */
export const fastestAvailable = async (): Promise<BackendDescriptor> => {
  for (const b of backends) if ((await b.probe()).available) return b
  return reference
}
