/**
 * One sweep job on this machine: `polyak train` in a child process, its checkpoint and result in the
 * job's folder (`OUT/jobs/ID/`), resumed from the checkpoint when one is there. The child exits by
 * itself when its parent dies (it polls the parent's pid), so a killed worker leaves no orphan that
 * could race the worker that takes the job over.
 *
 * @module sweep/runJob
 */
import { spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { writeAtomic } from '../files.js'
import { VERSION } from '../../version.js'
import type { SweepJob } from './grid.js'

/** The environment variable through which a job's `polyak train` learns the pid it must outlive no longer. */
export const PARENT_PID_ENV = 'POLYAK_PARENT_PID'

/** What a finished job leaves in `result.json`. */
export interface JobResult {
  readonly id: string
  readonly params: Readonly<Record<string, unknown>>
  readonly file: Readonly<Record<string, unknown>>
  /** `polyak train --json`'s output. */
  readonly result: Readonly<Record<string, unknown>>
  readonly seconds: number
  readonly polyak: string
  readonly finishedAt: string
  /** Where it ran (`local` or the worker's name). */
  readonly worker: string
}

/** How a job ended. */
export type JobOutcome = { readonly ok: true; readonly result: JobResult } | { readonly ok: false; readonly message: string }

/** The folder of job `id` under a sweep's output folder. */
export const jobDir = (out: string, id: string): string => join(out, 'jobs', id)

/** The job's `result.json`, when the job finished before (and the file is this job's). */
export const finishedResult = async (out: string, id: string): Promise<JobResult | undefined> => {
  try {
    const r = JSON.parse(await readFile(join(jobDir(out, id), 'result.json'), 'utf8')) as JobResult
    return r.id === id ? r : undefined
  } catch {
    return undefined
  }
}

const cli = (): string => fileURLToPath(new URL('../cli/main.js', import.meta.url))

/**
 * Runs `job` with `polyak train` in a child process, checkpointing every `every` steps (runs that
 * support checkpoints: semiSupervised) and resuming from the job's checkpoint; writes `result.json`
 * atomically on success. Never rejects: failures come back as `{ok: false, message}` with the tail
 * of the job's log.
 */
export const runJobProcess = async (job: SweepJob, out: string, options: { readonly every: number; readonly worker: string }): Promise<JobOutcome> => {
  const dir = jobDir(out, job.id)
  await mkdir(dir, { recursive: true })
  const jobFile = join(dir, 'job.json')
  await writeAtomic(jobFile, JSON.stringify(job.file, null, 2) + '\n')
  const checkpoint = job.decoded.kind === 'semiSupervised' ? ['--checkpoint', join(dir, 'checkpoint.json'), '--every', String(options.every), '--resume'] : []
  const log = createWriteStream(join(dir, 'log.txt'), { flags: 'a' })
  const t0 = Date.now()
  const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const child = spawn(process.execPath, [cli(), 'train', jobFile, ...checkpoint, '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, [PARENT_PID_ENV]: String(process.pid) },
    })
    let text = ''
    child.stdout.on('data', (d: Buffer) => (text += d.toString()))
    child.stderr.pipe(log, { end: false })
    child.once('error', (e) => {
      log.write(`polyak sweep: cannot start the job: ${e.message}\n`)
      resolve({ code: -1, stdout: '' })
    })
    child.once('close', (c) => resolve({ code: c, stdout: text }))
  })
  await new Promise<void>((r) => log.end(r))
  if (code !== 0) {
    let tail = ''
    try {
      tail = (await readFile(join(dir, 'log.txt'), 'utf8')).trim().split('\n').slice(-3).join(' | ')
    } catch {
      // no log
    }
    return { ok: false, message: `job ${job.id} exited with ${String(code)}: ${tail.slice(-400)}` }
  }
  let result: Record<string, unknown>
  try {
    result = JSON.parse(stdout) as Record<string, unknown>
  } catch {
    return { ok: false, message: `job ${job.id}: polyak train printed no JSON result` }
  }
  const r: JobResult = {
    id: job.id,
    params: job.params,
    file: job.file,
    result,
    seconds: (Date.now() - t0) / 1000,
    polyak: VERSION,
    finishedAt: new Date().toISOString(),
    worker: options.worker,
  }
  await writeAtomic(join(dir, 'result.json'), JSON.stringify(r, null, 2) + '\n')
  return { ok: true, result: r }
}
