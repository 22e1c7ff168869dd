/**
 * `polyak experiments`: every claim's runs as one sweep on local worker processes (seeds × arms are
 * independent runs), then the analysis and the results page.
 *
 * @module experiments/run
 */
import * as E from 'fp-ts/lib/Either.js'
import * as tf from '@tensorflow/tfjs-core'
import { jobsOf } from '../sweep/grid.js'
import { type SweepProgress, runLocalSweep } from '../sweep/pool.js'
import { type JobResult, finishedResult } from '../sweep/runJob.js'
import type { DatasetName } from '../../train/trainConfig.js'
import { type ClaimResult, analyseClaim } from './analysis.js'
import { type Budget, type ClaimName, type ClaimRun, claimRuns } from './claims.js'
import { writeExperimentsReport } from './report.js'

/** Options of an experiments run. */
export interface ExperimentsOptions {
  readonly claims: readonly ClaimName[]
  readonly seeds: number
  readonly budget: Budget
  readonly dataset: DatasetName
  readonly workers: number
  readonly out: string
  readonly command: string
  readonly onProgress?: (p: SweepProgress) => void
}

/** Runs the claims' experiments (resuming a folder's finished runs) and writes the report; returns the results and the report's files. */
export const runExperiments = async (
  o: ExperimentsOptions,
): Promise<{ results: ClaimResult[]; files: string[]; failures: ReadonlyArray<{ id: string; message: string }>; seconds: number }> => {
  const t0 = Date.now()
  const seeds = Array.from({ length: o.seeds }, (_, i) => i)
  const runs: ClaimRun[] = o.claims.flatMap((c) => claimRuns(c, o.budget, o.dataset, seeds))
  const grid = await jobsOf(
    'experiments',
    runs.map((r) => ({ params: { claim: r.claim, arm: r.arm, condition: r.condition, seed: r.seed }, file: r.file })),
  )
  if (E.isLeft(grid)) throw grid.left
  const sweep = await runLocalSweep(grid.right, o.out, {
    workers: o.workers,
    every: 1_000_000,
    ...(o.onProgress === undefined ? {} : { onProgress: o.onProgress }),
  })
  const byRun = new Map<ClaimRun, JobResult>()
  for (const [i, job] of grid.right.jobs.entries()) {
    const r = await finishedResult(o.out, job.id)
    if (r !== undefined) byRun.set(runs[i]!, r)
  }
  const results = o.claims.map((c) =>
    analyseClaim(
      c,
      runs.filter((r) => r.claim === c),
      byRun,
    ),
  )
  const seconds = (Date.now() - t0) / 1000
  const files = await writeExperimentsReport(o.out, results, runs, {
    budget: o.budget,
    dataset: o.dataset,
    backend: 'wasm',
    seeds,
    workers: o.workers,
    seconds,
    command: o.command,
    tfjs: tf.version_core,
  })
  return { results, files, failures: sweep.failures, seconds }
}
