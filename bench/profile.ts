/**
 * Where a step's time goes: `polyak bench --profile` runs each train-step job (or the jobs
 * `--job` names) under `tf.profile` on every available backend and adds up the time of each tfjs
 * kernel it dispatched: calls, total milliseconds and share of the kernels' total. On webgpu the
 * times are the GPU timestamp queries tfjs records per kernel; on cpu and wasm, tfjs's timer around
 * each kernel. The profiled runs are slower than plain ones (every kernel is timed and, on webgpu,
 * read back); the table says how the step divides, and `polyak bench` how long it takes.
 *
 * @module bench/profile
 */
import * as tf from '@tensorflow/tfjs-core'
import { backends, forceGpuKernels, unsafeUseBackend } from '../backends/index.js'
import type { Ops } from '../src/core/ops.js'
import type { Leaf } from '../src/core/tree.js'
import { type Job, selectJobs } from './index.js'

/** One kernel's share of a profiled step. */
export interface KernelShare {
  readonly kernel: string
  /** Dispatches per step. */
  readonly calls: number
  /** Milliseconds per step, summed over its calls (median over the profiled steps). */
  readonly ms: number
  /** Fraction of the kernels' total. */
  readonly share: number
}

/** The profile of one job on one backend. */
export interface JobProfile {
  readonly job: string
  readonly backend: string
  /** The profiled steps (after two unprofiled warm-up steps). */
  readonly steps: number
  /** Kernels' total per step, ms (median). */
  readonly kernelMs: number
  /** Wall time of a profiled step, ms (median): the kernels plus dispatch, and the profiler's own cost. */
  readonly wallMs: number
  readonly kernels: readonly KernelShare[]
  /** Why there is no table (a skipped job, kernel times the backend could not measure). */
  readonly note?: string
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? 0 : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

/** Profiles `job` on the active backend `backend` (its interpreter `ops`). */
const profileJob = async (job: Job, backend: string, ops: Ops<Leaf>, steps: number): Promise<JobProfile> => {
  const skip = job.skip?.(backend)
  if (skip !== undefined) return { job: job.name, backend, steps: 0, kernelMs: 0, wallMs: 0, kernels: [], note: `skipped: ${skip}` }
  const { run, dispose } = job.setup(ops)
  try {
    await run()
    await run()
    const perStep: Array<Map<string, { calls: number; ms: number }>> = []
    const walls: number[] = []
    let unmeasured = 0
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now()
      const info = await tf.profile(async () => {
        await run()
        return []
      })
      walls.push(performance.now() - t0)
      const byKernel = new Map<string, { calls: number; ms: number }>()
      for (const k of info.kernels) {
        const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : Number.NaN
        if (!Number.isFinite(ms)) unmeasured += 1
        const e = byKernel.get(k.name) ?? { calls: 0, ms: 0 }
        byKernel.set(k.name, { calls: e.calls + 1, ms: e.ms + (Number.isFinite(ms) ? ms : 0) })
      }
      perStep.push(byKernel)
    }
    const names = [...new Set(perStep.flatMap((m) => [...m.keys()]))]
    const rows = names.map((kernel) => ({
      kernel,
      calls: median(perStep.map((m) => m.get(kernel)?.calls ?? 0)),
      ms: median(perStep.map((m) => m.get(kernel)?.ms ?? 0)),
    }))
    const total = rows.reduce((a, r) => a + r.ms, 0)
    const kernels = rows.map((r) => ({ ...r, share: total > 0 ? r.ms / total : 0 })).sort((a, b) => b.ms - a.ms)
    return {
      job: job.name,
      backend,
      steps,
      kernelMs: total,
      wallMs: median(walls),
      kernels,
      ...(unmeasured > 0 ? { note: `${unmeasured} kernel calls had no time (the backend could not measure them)` } : {}),
    }
  } finally {
    dispose()
  }
}

/**
 * Profiles the train-step jobs (or the jobs whose name contains one of `jobs`) on every available
 * backend but the Float64 reference (or on `backends`), `steps` profiled steps each.
 */
export const profileBench = async (
  options: { backends?: readonly string[]; jobs?: readonly string[]; steps?: number; onProgress?: (line: string) => void } = {},
): Promise<JobProfile[]> => {
  const jobs = selectJobs(options.jobs ?? ['train step'])
  const out: JobProfile[] = []
  for (const b of backends) {
    if (b.name === 'reference' || (options.backends !== undefined && !options.backends.includes(b.name))) continue
    const a = await b.probe()
    if (!a.available) continue
    const { ops } = await unsafeUseBackend(b.name)
    if (b.name === 'webgpu') await forceGpuKernels()
    for (const job of jobs) {
      const p = await profileJob(job, b.name, ops, options.steps ?? 3)
      options.onProgress?.(
        `${b.name.padEnd(7)} ${job.name}: ${p.steps === 0 ? (p.note ?? 'not profiled') : `kernels ${p.kernelMs.toFixed(1)} ms of a ${p.wallMs.toFixed(1)} ms profiled step`}`,
      )
      out.push(p)
    }
  }
  return out
}

/** The profiles as markdown: per job and backend, the kernels by time (the top `top`, the rest summed). */
export const profileMarkdown = (profiles: readonly JobProfile[], top = 15): string =>
  profiles
    .map((p) => {
      const head = `### ${p.job}: ${p.backend}\n\n`
      if (p.kernels.length === 0) return `${head}${p.note ?? 'no kernels'}\n`
      const shown = p.kernels.slice(0, top)
      const rest = p.kernels.slice(top)
      const row = (k: string, calls: number, ms: number, share: number) => `| ${k} | ${calls} | ${ms.toFixed(2)} | ${(100 * share).toFixed(1)} % |`
      const lines = [
        '| kernel | calls per step | ms per step | share |',
        '| --- | --- | --- | --- |',
        ...shown.map((k) => row(k.kernel, k.calls, k.ms, k.share)),
        ...(rest.length === 0
          ? []
          : [
              row(
                `${rest.length} others`,
                rest.reduce((a, k) => a + k.calls, 0),
                rest.reduce((a, k) => a + k.ms, 0),
                rest.reduce((a, k) => a + k.share, 0),
              ),
            ]),
      ]
      return `${head}${lines.join('\n')}\n\nKernels ${p.kernelMs.toFixed(1)} ms per step; a profiled step took ${p.wallMs.toFixed(1)} ms (median of ${p.steps})${p.note === undefined ? '' : `; ${p.note}`}.\n`
    })
    .join('\n')
