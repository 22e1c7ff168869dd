/**
 * The embedded default: a sweep's jobs on N local worker processes (one `polyak train` each), no
 * server. Jobs that finished before are skipped; unfinished ones resume from their checkpoints.
 *
 * @module sweep/pool
 */
import type { SweepGrid, SweepJob } from './grid.js'
import { finishedResult, runJobProcess } from './runJob.js'

/** Where a sweep stands. */
export interface SweepProgress {
  readonly total: number
  readonly done: number
  readonly running: number
  readonly failed: number
  /** Seconds left, estimated from the jobs finished in this run (undefined before the first). */
  readonly eta?: number
}

/** How a sweep ended. */
export interface SweepOutcome {
  readonly done: number
  readonly skipped: number
  readonly failures: ReadonlyArray<{ readonly id: string; readonly message: string }>
  readonly seconds: number
}

/** Formats progress for a terminal line. */
export const formatProgress = (p: SweepProgress): string =>
  `${p.done}/${p.total} done, ${p.running} running, ${p.failed} failed${p.eta === undefined ? '' : `, eta ${Math.round(p.eta)} s`}`

/**
 * Runs the jobs of `grid` that have no result in `out` on `workers` local processes; reports
 * progress after every change.
 */
export const runLocalSweep = async (
  grid: SweepGrid,
  out: string,
  options: { readonly workers: number; readonly every: number; readonly onProgress?: (p: SweepProgress) => void },
): Promise<SweepOutcome> => {
  const t0 = Date.now()
  const todo: SweepJob[] = []
  for (const job of grid.jobs) if ((await finishedResult(out, job.id)) === undefined) todo.push(job)
  const skipped = grid.jobs.length - todo.length
  let done = skipped
  let running = 0
  const failures: Array<{ id: string; message: string }> = []
  const durations: number[] = []
  const report = (): void => {
    const mean = durations.length === 0 ? undefined : durations.reduce((a, b) => a + b, 0) / durations.length
    const left = grid.jobs.length - done - failures.length
    options.onProgress?.({
      total: grid.jobs.length,
      done,
      running,
      failed: failures.length,
      ...(mean === undefined ? {} : { eta: (mean * left) / Math.max(1, Math.min(options.workers, left)) }),
    })
  }
  report()
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < todo.length) {
      const job = todo[next++]!
      running += 1
      report()
      const started = Date.now()
      const r = await runJobProcess(job, out, { every: options.every, worker: 'local' })
      running -= 1
      if (r.ok) {
        done += 1
        durations.push((Date.now() - started) / 1000)
      } else failures.push({ id: job.id, message: r.message })
      report()
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.workers, todo.length)) }, lane))
  return { done: done - skipped, skipped, failures, seconds: (Date.now() - t0) / 1000 }
}
