/**
 * `polyak experiments`: every claim's runs as sweeps on local worker processes (seeds × arms are
 * independent runs), then the analysis and the results page. In order:
 *
 * 1. the projector-only claim's step times, measured first, while nothing else runs;
 * 2. one sweep of every run that needs no earlier result, WeightAlign's learning-rate selection
 *    runs first;
 * 3. WeightAlign's runs at each arm's picked learning rate.
 *
 * Runs that train the same file (the BN-teacher arm that the EMAN-self and Momentum² claims share)
 * run once. Everything lands in the output folder, and a re-run resumes from what is there.
 *
 * @module experiments/run
 */
import * as E from 'fp-ts/lib/Either.js'
import * as tf from '@tensorflow/tfjs-core'
import { join } from 'node:path'
import { mkdir, readFile } from 'node:fs/promises'
import { jobsOf } from '../sweep/grid.js'
import { type SweepProgress, runLocalSweep } from '../sweep/pool.js'
import { type JobResult, finishedResult } from '../sweep/runJob.js'
import { writeAtomic } from '../files.js'
import type { DatasetName } from '../../train/trainConfig.js'
import { type ClaimResult, analyseClaim, pickLearningRates } from './analysis.js'
import { type Budget, type ClaimName, type ClaimRun, budgetOf, claimRuns, selectionRuns } from './claims.js'
import { writeExperimentsReport } from './report.js'
import type { StepTimingResult } from './stepTiming.js'

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
  /** A line per step-time measurement. */
  readonly onTiming?: (line: string) => void
}

/** Runs `runs` as one sweep (one job per distinct train file) and returns each run's result. */
const sweep = async (
  name: string,
  runs: readonly ClaimRun[],
  o: ExperimentsOptions,
): Promise<{ byRun: Map<ClaimRun, JobResult>; failures: ReadonlyArray<{ id: string; message: string }> }> => {
  const index = new Map<string, number>()
  const entries: Array<{ params: Record<string, unknown>; file: Record<string, unknown> }> = []
  const entryOf = runs.map((r) => {
    const key = JSON.stringify(r.file)
    let i = index.get(key)
    if (i === undefined) {
      i = entries.length
      index.set(key, i)
      entries.push({ params: { claim: r.claim, arm: r.arm, condition: r.condition, seed: r.seed }, file: r.file })
    }
    return i
  })
  const byRun = new Map<ClaimRun, JobResult>()
  if (entries.length === 0) return { byRun, failures: [] }
  const grid = await jobsOf(name, entries)
  if (E.isLeft(grid)) throw grid.left
  const s = await runLocalSweep(grid.right, o.out, {
    workers: o.workers,
    every: 1_000_000,
    ...(o.onProgress === undefined ? {} : { onProgress: o.onProgress }),
  })
  for (const [k, run] of runs.entries()) {
    const r = await finishedResult(o.out, grid.right.jobs[entryOf[k]!]!.id)
    if (r !== undefined) byRun.set(run, r)
  }
  return { byRun, failures: s.failures }
}

/** The step times of the projector-only claim: read from the folder when measured before with the same options, else measured and saved. */
const stepTimes = async (o: ExperimentsOptions): Promise<StepTimingResult> => {
  const z = budgetOf(o.budget)
  const options = {
    backends: o.budget === 'full' ? ['wasm', 'webgpu'] : ['wasm'],
    model: z.backbone,
    resolution: z.resolution,
    batchSize: z.simclr.batch,
    pairs: o.budget === 'full' ? 5 : 2,
    repeats: o.budget === 'full' ? 3 : 1,
  }
  const file = join(o.out, 'step-timing.json')
  try {
    const saved = JSON.parse(await readFile(file, 'utf8')) as StepTimingResult
    if (JSON.stringify(saved.options) === JSON.stringify(options)) return saved
  } catch {
    // not measured yet
  }
  const { timeMomentumSteps } = await import('./stepTiming.js')
  const r = await timeMomentumSteps({ ...options, ...(o.onTiming === undefined ? {} : { onProgress: o.onTiming }) })
  await writeAtomic(file, JSON.stringify(r, null, 2) + '\n')
  return r
}

/**
 * The wall time of the folder's runs, kept in `wall-time.json` as one entry per invocation: this
 * invocation's entry is written when it starts and brought up to date as jobs finish, so a run
 * that is killed and resumed reports the time of every invocation, the killed ones included.
 */
const wallClock = async (out: string) => {
  const file = join(out, 'wall-time.json')
  let before: number[] = []
  try {
    const saved = JSON.parse(await readFile(file, 'utf8')) as { invocations?: unknown }
    if (Array.isArray(saved.invocations)) before = saved.invocations.filter((x): x is number => typeof x === 'number' && Number.isFinite(x))
  } catch {
    // the first invocation
  }
  const t0 = Date.now()
  let last = 0
  // one write at a time, in order: a late tick never overwrites a later total
  let queue: Promise<unknown> = Promise.resolve()
  const save = (): Promise<number> => {
    const invocations = [...before, (Date.now() - t0) / 1000]
    const write = queue.then(() => writeAtomic(file, JSON.stringify({ invocations }, null, 2) + '\n'))
    queue = write.catch(() => undefined)
    return write.then(() => invocations.reduce((a, b) => a + b, 0))
  }
  await save()
  return {
    /** Brings this invocation's entry up to date (at most every 10 s). */
    tick: (): void => {
      if (Date.now() - last < 10_000) return
      last = Date.now()
      save().catch(() => undefined)
    },
    /** The total over every invocation, this one included up to now. */
    total: save,
  }
}

/** Runs the claims' experiments (resuming a folder's finished runs) and writes the report; returns the results and the report's files. */
export const runExperiments = async (
  o: ExperimentsOptions,
): Promise<{ results: ClaimResult[]; files: string[]; failures: ReadonlyArray<{ id: string; message: string }>; seconds: number }> => {
  await mkdir(o.out, { recursive: true })
  const clock = await wallClock(o.out)
  const onProgress = (p: SweepProgress): void => {
    clock.tick()
    o.onProgress?.(p)
  }
  const withClock: ExperimentsOptions = { ...o, onProgress }
  const seeds = Array.from({ length: o.seeds }, (_, i) => i)
  const timing = o.claims.includes('projectorOnly') ? await stepTimes(o) : undefined
  const selection = o.claims.includes('weightAlign') ? selectionRuns(o.budget, o.dataset) : []
  const first = [...selection, ...o.claims.flatMap((c) => claimRuns(c, o.budget, o.dataset, seeds))]
  const a = await sweep('experiments', first, withClock)
  const picks = pickLearningRates(selection, a.byRun)
  const second = o.claims.includes('weightAlign') ? claimRuns('weightAlign', o.budget, o.dataset, seeds, picks.picks) : []
  const b = await sweep('experiments', second, withClock)
  const byRun = new Map([...a.byRun, ...b.byRun])
  const runs = [...first, ...second]
  const results = o.claims.map((c) =>
    analyseClaim(
      c,
      runs.filter((r) => r.claim === c && r.selection === undefined),
      byRun,
      { ...(timing === undefined || c !== 'projectorOnly' ? {} : { timing }), ...(c === 'weightAlign' ? { selection: picks } : {}) },
    ),
  )
  const seconds = await clock.total()
  const files = await writeExperimentsReport(o.out, results, runs, {
    budget: o.budget,
    dataset: o.dataset,
    backend: 'wasm',
    seeds,
    workers: o.workers,
    seconds,
    command: o.command,
    tfjs: tf.version_core,
    resolution: budgetOf(o.budget).resolution,
  })
  return { results, files, failures: [...a.failures, ...b.failures], seconds }
}
