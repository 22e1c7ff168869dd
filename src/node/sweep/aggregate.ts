/**
 * A sweep's results in one table: one row per job with the fields that vary and the metrics of its
 * run (accuracies in percent), written as `results.json`, `results.csv` and `index.html` in the
 * sweep's folder.
 *
 * @module sweep/aggregate
 */
import { join } from 'node:path'
import { type Rows, writeReport } from '../report/report.js'
import { VERSION } from '../../version.js'
import type { SweepGrid } from './grid.js'
import { type JobResult, finishedResult } from './runJob.js'

const pct = (x: unknown): number | undefined => (typeof x === 'number' ? Math.round(1000 * x) / 10 : undefined)

/** The metrics of a job's result, by kind: accuracies in percent, and seconds. */
export const metricsOf = (r: JobResult): Record<string, number | undefined> => {
  const x = r.result as Record<string, unknown>
  const final = x.final as { student?: number; teacher?: number } | undefined
  if (x.kind === 'semiSupervised')
    return { 'student accuracy (%)': pct(final?.student), 'teacher accuracy (%)': pct(final?.teacher), seconds: Math.round(r.seconds) }
  if (x.kind === 'selfSupervised') return { 'linear probe (%)': pct(x.linearProbe), 'kNN (%)': pct(x.knn), seconds: Math.round(r.seconds) }
  return { 'accuracy (%)': pct(x.accuracy), seconds: Math.round(r.seconds) }
}

/** Reads every finished job of `grid` in `out` and writes the table and report; returns the rows (jobs not finished are absent). */
export const aggregate = async (grid: SweepGrid, out: string): Promise<{ rows: Rows; missing: string[]; files: string[] }> => {
  const rows: Array<Record<string, string | number | undefined>> = []
  const results: JobResult[] = []
  const missing: string[] = []
  for (const job of grid.jobs) {
    const r = await finishedResult(out, job.id)
    if (r === undefined) {
      missing.push(job.id)
      continue
    }
    results.push(r)
    rows.push({
      job: job.id,
      ...Object.fromEntries(
        grid.fields.map((f) => [f, typeof job.params[f] === 'object' ? JSON.stringify(job.params[f]) : (job.params[f] as string | number)]),
      ),
      ...metricsOf(r),
      worker: r.worker,
    })
  }
  const files = await writeReport(
    out,
    `polyak sweep: ${grid.name}`,
    { grid: grid.name, polyak: VERSION, node: process.version, jobs: grid.jobs.length, finished: results.length, results },
    { results: rows },
    [{ title: grid.name, text: `${results.length} of ${grid.jobs.length} jobs finished; one row per job, accuracies in percent.`, charts: [], table: rows }],
  )
  return { rows, missing, files: files.map((f) => join(f)) }
}
