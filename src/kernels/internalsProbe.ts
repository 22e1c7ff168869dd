/**
 * Behavioural probes of tfjs's private members: not whether the members exist, but whether they do
 * what `kernels/tfjsInternals` types them to do, on the active backend. Each probe reads or writes a
 * tensor of known values through the members the kernels use and compares the numbers:
 *
 * - cpu: `data.get(id).values` holds the tensor's values, and `refCount` counts it once;
 * - wasm: `dataIdMap.get(id).memoryOffset` points at the tensor's values in the module's memory;
 * - webgpu: a multi-tensor `axpby` recorded through polyak's own dispatch path (device, tensor map,
 *   command encoder, queue-owned set, submit) gives `a·x + b·y`, and tfjs's profiler sees the kernel.
 *
 * `useBackend` runs the probe of the backend it activates; a failure switches polyak's fused
 * kernels off on that backend with one warning that says which member misbehaved.
 *
 * @module kernels/internalsProbe
 */
import * as tf from '@tensorflow/tfjs-core'
import { fusedAxpbyMany, canFuseAxpbyMany } from './axpbyMany.js'
import { KERNELS } from './names.js'
import { backendAs, internalsAllowed, markProbeFailed, wasmMemoryOf } from './tfjsInternals.js'

/** What a probe found. */
export interface ProbeResult {
  readonly backend: string
  /** True when every member checked did what it is typed to do (or the backend has none to check). */
  readonly ok: boolean
  /** The members checked, in words. */
  readonly checked: readonly string[]
  /** The first thing that did not hold. */
  readonly reason?: string
}

const VALUES = [1.5, -2, 3.25, 1e-3, -7e3, 0.5, 42, -0.125]

const same = (got: ArrayLike<number>, want: readonly number[]): boolean => got.length === want.length && want.every((v, i) => Math.fround(v) === got[i])

const probeCpu = (t: tf.Tensor, backend: unknown): string | undefined => {
  const b = backendAs('cpu', backend)
  if (!same(b.data.get(t.dataId).values, VALUES)) return "cpu: data.get(id).values is not the tensor's values"
  if (b.refCount(t.dataId) !== 1) return `cpu: refCount of a fresh tensor is ${b.refCount(t.dataId)}, not 1`
  return undefined
}

const probeWasm = (t: tf.Tensor, backend: unknown): string | undefined => {
  const b = backendAs('wasm', backend)
  const entry = b.dataIdMap.get(t.dataId)
  if (entry === undefined) return 'wasm: dataIdMap.get(id) has no entry for a live tensor'
  const memory = wasmMemoryOf(b)
  if (memory === undefined) return 'wasm: the module exposes no memory (asm.memory, wasmMemory)'
  if (!same(new Float32Array(memory.buffer, entry.memoryOffset, VALUES.length), VALUES))
    return "wasm: dataIdMap.get(id).memoryOffset does not point at the tensor's values"
  if (b.refCount(t.dataId) !== 1) return `wasm: refCount of a fresh tensor is ${b.refCount(t.dataId)}, not 1`
  return undefined
}

const probeWebGpu = async (x: tf.Tensor): Promise<string | undefined> => {
  const y = tf.tensor1d(VALUES.map((v) => v / 2))
  try {
    if (!canFuseAxpbyMany([x], [y])) return 'webgpu: the backend lacks members the dispatches use (webgpuInternals)'
    let out: tf.Tensor[] = []
    const profile = await tf.profile(() => {
      out = fusedAxpbyMany(2, [x], 3, [y], false)
      return out
    })
    const got = await out[0]!.data()
    tf.dispose(out)
    if (!profile.kernelNames.includes(KERNELS.axpbyMany)) return `webgpu: the profiler did not see ${KERNELS.axpbyMany} (timers not recorded)`
    const want = VALUES.map((v) => Math.fround(2 * Math.fround(v) + 3 * Math.fround(v / 2)))
    if (!want.every((w, i) => Math.abs(got[i]! - w) <= 1e-6 * Math.abs(w)))
      return 'webgpu: a dispatch recorded through the command encoder did not give a·x + b·y'
    return undefined
  } finally {
    y.dispose()
  }
}

/**
 * Probes the active backend's private members (see the module comment) and records the verdict:
 * after a failed probe, `internalsAllowed()` is false on that backend. A backend polyak reads no
 * private member of (`tensorflow`, the Float64 reference) passes with nothing checked. `view` is
 * the object the cpu and wasm probes read the members from (default: the active backend; a test
 * passes a doctored view of it, which tfjs itself never sees).
 */
export const probeInternals = async (view: unknown = tf.backend()): Promise<ProbeResult> => {
  const backend = tf.getBackend()
  const checked =
    backend === 'cpu'
      ? ['data.get(id).values', 'refCount']
      : backend === 'wasm'
        ? ['dataIdMap.get(id).memoryOffset', 'the module memory', 'refCount']
        : backend === 'webgpu'
          ? ['device', 'tensorMap', 'the command and compute-pass encoders', 'the queue-owned set', 'submitQueue', 'the profiling timers']
          : []
  if (checked.length === 0) return { backend, ok: true, checked }
  markProbeFailed(backend, undefined)
  if (!internalsAllowed()) return { backend, ok: true, checked: [] } // an untested tfjs: nothing private is used
  const t = tf.tensor1d(VALUES)
  let reason: string | undefined
  try {
    reason = backend === 'cpu' ? probeCpu(t, view) : backend === 'wasm' ? probeWasm(t, view) : await probeWebGpu(t)
  } catch (e) {
    reason = `${backend}: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`
  } finally {
    t.dispose()
  }
  markProbeFailed(backend, reason)
  return reason === undefined ? { backend, ok: true, checked } : { backend, ok: false, checked, reason }
}
