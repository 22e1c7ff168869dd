/**
 * Runs a test suite once per backend, the way tfjs's `describeWithFlags` does.
 *
 * `POLYAK_REQUIRE_BACKENDS` (a comma list, e.g. `cpu,wasm,webgpu,reference`) names the backends
 * that must be present: a required backend that cannot run fails the suite. Any other unavailable
 * backend is skipped, and the reason is printed (never silently).
 */
import { afterAll, beforeAll, describe, it } from 'vitest'
import { type ActiveBackend, type BackendDescriptor, backends, forceGpuKernels, unsafeUseBackend } from 'polyak/backends'
import type { Leaf, Ops } from 'polyak'

/** The backends `POLYAK_REQUIRE_BACKENDS` requires. */
export const requiredBackends = (): Set<string> =>
  new Set(
    (process.env.POLYAK_REQUIRE_BACKENDS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  )

/** A handle the suite body reads its backend from, once `beforeAll` has activated it. */
export interface BackendHandle {
  readonly descriptor: BackendDescriptor
  /** The interpreter; throws if read before `beforeAll` ran or when the backend is unavailable. */
  readonly ops: Ops<Leaf>
  readonly available: () => boolean
}

const reported = new Set<string>()

/**
 * `describe`s `body` once per backend (`names` defaults to all). Inside, each test should begin
 * with `if (skipIfUnavailable(b, ctx)) return` or use `itOn(b)`.
 */
export const describeEachBackend = (title: string, body: (b: BackendHandle) => void, names: readonly string[] = backends.map((d) => d.name)): void => {
  for (const descriptor of backends.filter((d) => names.includes(d.name))) {
    describe(`${title} [${descriptor.name}]`, () => {
      let active: ActiveBackend | undefined
      beforeAll(async () => {
        const availability = await descriptor.probe()
        if (!availability.available) {
          if (requiredBackends().has(descriptor.name)) {
            throw new Error(`backend '${descriptor.name}' is required by POLYAK_REQUIRE_BACKENDS but unavailable: ${availability.reason}`)
          }
          if (!reported.has(descriptor.name)) {
            reported.add(descriptor.name)
            console.warn(`[polyak tests] skipping backend '${descriptor.name}': ${availability.reason}`)
          }
          return
        }
        active = await unsafeUseBackend(descriptor.name)
        // the tests want webgpu's GPU kernels even for small tensors
        if (descriptor.name === 'webgpu') await forceGpuKernels()
      })
      afterAll(() => {
        active = undefined
      })
      body({
        descriptor,
        get ops() {
          if (active === undefined) throw new Error(`backend '${descriptor.name}' is not active`)
          return active.ops
        },
        available: () => active !== undefined,
      })
    })
  }
}

/** `it` that skips (with the reason already printed) when the suite's backend is unavailable. */
export const itOn =
  (b: BackendHandle) =>
  (name: string, fn: (ops: Ops<Leaf>) => unknown | Promise<unknown>, timeout?: number): void => {
    it(
      name,
      async (ctx) => {
        if (!b.available()) {
          ctx.skip()
          return
        }
        await fn(b.ops)
      },
      timeout,
    )
  }
