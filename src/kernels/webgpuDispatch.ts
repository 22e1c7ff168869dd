/**
 * polyak's own compute dispatches on tfjs-backend-webgpu's device and command stream, for kernels
 * that tfjs's program runner cannot express: it binds one output per program, while a
 * multi-tensor kernel (`axpbyMany`) writes many tensors in one dispatch.
 *
 * The dispatches are recorded into the backend's current command encoder and compute pass, in
 * program order with tfjs's own, so every earlier write is visible to them and every later read
 * sees theirs; the tensors they touch join the backend's "owned by the queue" set (their buffers
 * are released only after the queue is submitted), and the backend's submit batching
 * (`WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE`) and profiling timers (`tf.profile`, `tf.time`) count them.
 *
 * This leans on fields of `WebGPUBackend` that tfjs does not document (typed in `kernels/tfjsInternals`, checked for by
 * `webgpuInternals` and, for what they do, by `probeInternals`; a backend without them makes the kernels that need them unavailable, and
 * their callers compose tfjs ops instead). Checked against `@tensorflow/tfjs-backend-webgpu` 4.22.
 *
 * @module kernels/webgpuDispatch
 */
import * as tf from '@tensorflow/tfjs-core'
import type { GpuBufferLike, GpuPipelineLike, WebGpuInternals } from './tfjsInternals.js'

export { type GpuBufferLike, type GpuPipelineLike, type WebGpuInternals, webgpuInternals } from './tfjsInternals.js'

const pipelines = new WeakMap<object, Map<string, GpuPipelineLike>>()

/** The compute pipeline of WGSL `code` (entry point `main`) on `b`'s device, compiled once per device and key. */
export const pipelineFor = (b: WebGpuInternals, key: string, code: () => string): GpuPipelineLike => {
  let cache = pipelines.get(b.device)
  if (cache === undefined) pipelines.set(b.device, (cache = new Map()))
  let p = cache.get(key)
  if (p === undefined) {
    p = b.device.createComputePipeline({ layout: 'auto', compute: { module: b.device.createShaderModule({ code: code() }), entryPoint: 'main' } })
    cache.set(key, p)
  }
  return p
}

/** The storage buffer of a tensor on `b`, uploaded from the CPU first if it lives there. */
export const storageOf = (b: WebGpuInternals, t: tf.TensorInfo): GpuBufferLike => {
  b.uploadToGPU(t.dataId)
  const resource = b.tensorMap.get(t.dataId)?.resource as GpuBufferLike | null | undefined
  // tfjs keeps float32 tensors in buffers; a texture (from an image) is not a storage buffer
  if (resource === null || resource === undefined || typeof resource.size !== 'number' || 'createView' in resource) {
    throw new Error('polyak webgpu dispatch: the tensor is not in a GPU storage buffer')
  }
  return resource
}

/** One dispatch to record: a pipeline, its bindings in order (storage buffers, then the uniform block), and the workgroup grid. */
export interface Dispatch {
  readonly pipeline: GpuPipelineLike
  readonly bindings: readonly unknown[]
  readonly workgroups: readonly [number, number]
}

/**
 * Records `dispatches` into `b`'s command stream (one compute pass with a timestamp pair when tfjs
 * is profiling, under the kernel's `name`), marks the tensors of `touched` as used by the queue,
 * and submits when the backend's batch is full, as tfjs does after its own programs.
 */
export const recordDispatches = (b: WebGpuInternals, name: string, dispatches: readonly Dispatch[], touched: readonly tf.TensorInfo[]): void => {
  if (dispatches.length === 0) return
  for (const t of touched) b.commandQueueOwnedIds.add(t.dataId as object)
  const timed = b.activeTimers !== null && b.activeTimers !== undefined
  b.ensureCommandEncoderReady()
  if (timed && b.supportTimestampQuery) {
    b.endComputePassEncoder()
    b.querySet ??= b.device.createQuerySet({ type: 'timestamp', count: b.querySetCount })
    b.computePassEncoder = b.commandEncoder!.beginComputePass({
      timestampWrites: { querySet: b.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 },
    }) as WebGpuInternals['computePassEncoder']
  } else if (b.computePassEncoder === null || b.computePassEncoder === undefined) {
    b.computePassEncoder = b.commandEncoder!.beginComputePass({}) as WebGpuInternals['computePassEncoder']
  }
  const pass = b.computePassEncoder!
  for (const d of dispatches) {
    pass.setPipeline(d.pipeline)
    pass.setBindGroup(
      0,
      b.device.createBindGroup({ layout: d.pipeline.getBindGroupLayout(0), entries: d.bindings.map((resource, binding) => ({ binding, resource })) }),
    )
    pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], 1)
  }
  b.dispatchCountInPass += dispatches.length
  if (timed) {
    b.endComputePassEncoder()
    b.activeTimers!.push({ name, query: b.getQueryTime() })
  } else if (b.dispatchCountInPass >= tf.env().getNumber('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE')) {
    b.endComputePassEncoder()
    b.submitQueue()
  }
}

/**
 * A 2-D grid of `groups` workgroups within the device's per-dimension limit (row-major: workgroup
 * `(x, y)` is number `x + y·gridX`; the last row may run past `groups`, and the shader skips those).
 */
export const workgroupGrid = (b: WebGpuInternals, groups: number): [number, number] => {
  const max = b.device.limits.maxComputeWorkgroupsPerDimension
  return groups <= max ? [Math.max(groups, 1), 1] : [max, Math.ceil(groups / max)]
}
