/**
 * Sweeps across machines on BullMQ (Redis): `polyak sweep --redis URL` puts the jobs on a queue,
 * `polyak worker --redis URL` on any machine takes them. Each job runs as `polyak train` in a child
 * process of the worker, with its checkpoint and result in the sweep's folder, which every worker
 * must reach under the same path (a shared file system such as NFS). A worker that dies stops
 * renewing its job's lock; BullMQ's stalled-job check moves the job back to the queue, and the next
 * worker resumes it from its last checkpoint. `bullmq` and `ioredis` are optional peers of polyak.
 *
 * @module sweep/queue
 */
import { hostname } from 'node:os'
import { importOptional } from '../optional.js'
import { sha256Hex } from '../../train/checkpoint.js'
import type { SweepGrid, SweepJob } from './grid.js'
import { finishedResult, runJobProcess } from './runJob.js'
import type { SweepProgress } from './pool.js'

/** What to run when BullMQ is missing. */
export const BULLMQ_HINT = 'distributed sweeps need the npm packages bullmq and ioredis: npm install bullmq ioredis'

/** The default queue name. */
export const DEFAULT_QUEUE = 'polyak-sweep'

/** Redis cannot be reached: nothing was enqueued. */
export class RedisUnreachableError extends Error {
  override readonly name = 'RedisUnreachableError'
  readonly code = 'REDIS_UNREACHABLE'
}

/** The data of a queued job: the job and the shared folder its files go to. */
export interface QueuedJob {
  readonly job: SweepJob
  readonly out: string
}

type BullMq = typeof import('bullmq')
type IoRedis = typeof import('ioredis')

const load = async (): Promise<{ bullmq: BullMq; Redis: IoRedis['default'] }> => {
  const bullmq = (await importOptional('bullmq', BULLMQ_HINT)) as BullMq
  const ioredis = (await importOptional('ioredis', BULLMQ_HINT)) as IoRedis
  return { bullmq, Redis: ioredis.default }
}

/** Connection options from a `redis://[:password@]host:port[/db]` URL, failing fast when the server is not there. */
export const connectionOf = (url: string): Record<string, unknown> => {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new RedisUnreachableError(`'${url.slice(0, 80)}' is not a redis:// URL`)
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new RedisUnreachableError(`'${url.slice(0, 80)}' is not a redis:// URL`)
  return {
    host: u.hostname,
    port: u.port === '' ? 6379 : Number(u.port),
    ...(u.password === '' ? {} : { password: decodeURIComponent(u.password) }),
    ...(u.username === '' ? {} : { username: decodeURIComponent(u.username) }),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  }
}

/** Pings Redis at `url` (3 s at most); a `RedisUnreachableError` saying why when it does not answer. */
export const checkRedis = async (url: string): Promise<void> => {
  const { Redis } = await load()
  const client = new Redis({
    ...connectionOf(url),
    lazyConnect: true,
    connectTimeout: 3000,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.ping()
  } catch (e) {
    throw new RedisUnreachableError(`cannot reach Redis at ${url}: ${(e as Error).message.split('\n')[0]}`)
  } finally {
    client.disconnect()
  }
}

/** The BullMQ job id of sweep job `id` writing to folder `out`: the same job for another folder is another queue entry. */
export const queueJobId = async (id: string, out: string): Promise<string> => `${id}-${(await sha256Hex(out)).slice(0, 8)}`

/**
 * Puts the unfinished jobs of `grid` on queue `queueName` in one atomic step (all or none), with
 * ids from the job and the folder (a job already waiting or running is not queued twice; one that
 * ended without leaving a result is queued afresh). Returns how many were queued and how many had
 * finished before.
 */
export const enqueueSweep = async (grid: SweepGrid, out: string, url: string, queueName = DEFAULT_QUEUE): Promise<{ queued: number; finished: number }> => {
  await checkRedis(url)
  const { bullmq } = await load()
  const queue = new bullmq.Queue<QueuedJob>(queueName, { connection: connectionOf(url) })
  try {
    const todo: Array<{ job: SweepJob; jobId: string }> = []
    for (const job of grid.jobs) {
      if ((await finishedResult(out, job.id)) !== undefined) continue
      const jobId = await queueJobId(job.id, out)
      const existing = await queue.getJob(jobId)
      if (existing !== undefined) {
        const state = await existing.getState()
        if (state !== 'completed' && state !== 'failed' && state !== 'unknown') continue // already waiting or running
        await existing.remove()
      }
      todo.push({ job, jobId })
    }
    await queue.addBulk(
      todo.map(({ job, jobId }) => ({ name: job.id, data: { job, out }, opts: { jobId, attempts: 2, removeOnComplete: false, removeOnFail: false } })),
    )
    return { queued: todo.length, finished: grid.jobs.length - todo.length }
  } finally {
    await queue.close()
  }
}

/** Follows the jobs of `grid` until each has a result or has failed for good; reports progress every second. */
export const followSweep = async (
  grid: SweepGrid,
  out: string,
  url: string,
  queueName: string,
  onProgress: (p: SweepProgress) => void,
): Promise<{ failures: Array<{ id: string; message: string }> }> => {
  const { bullmq } = await load()
  const queue = new bullmq.Queue<QueuedJob>(queueName, { connection: connectionOf(url) })
  const t0 = Date.now()
  let startDone: number | undefined
  try {
    for (;;) {
      let done = 0
      let running = 0
      const failures: Array<{ id: string; message: string }> = []
      for (const job of grid.jobs) {
        if ((await finishedResult(out, job.id)) !== undefined) {
          done += 1
          continue
        }
        const q = await queue.getJob(await queueJobId(job.id, out))
        const state = q === undefined ? 'unknown' : await q.getState()
        if (state === 'active') running += 1
        else if (state === 'failed') failures.push({ id: job.id, message: q?.failedReason ?? 'failed' })
        else if (state === 'completed' && (await finishedResult(out, job.id)) !== undefined)
          done += 1 // finished between the two looks
        else if (state === 'unknown' || state === 'completed')
          failures.push({
            id: job.id,
            message:
              state === 'unknown'
                ? 'not on the queue (removed?): run polyak sweep again to queue it'
                : 'completed without a result in the sweep folder: do all workers share it?',
          })
      }
      startDone ??= done
      const rate = (done - startDone) / ((Date.now() - t0) / 1000)
      const left = grid.jobs.length - done - failures.length
      onProgress({ total: grid.jobs.length, done, running, failed: failures.length, ...(rate > 0 ? { eta: left / rate } : {}) })
      if (left === 0) return { failures }
      await new Promise((r) => setTimeout(r, 1000))
    }
  } finally {
    await queue.close()
  }
}

/** The queue's counts per state, and its active and failed jobs. */
export const queueStatus = async (
  url: string,
  queueName = DEFAULT_QUEUE,
): Promise<{ counts: Record<string, number>; active: string[]; failed: Array<{ id: string; reason: string }> }> => {
  await checkRedis(url)
  const { bullmq } = await load()
  const queue = new bullmq.Queue<QueuedJob>(queueName, { connection: connectionOf(url) })
  try {
    const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed')
    const active = (await queue.getJobs(['active'])).map((j) => String(j.id))
    const failed = (await queue.getJobs(['failed'])).map((j) => ({ id: String(j.id), reason: j.failedReason ?? '' }))
    return { counts, active, failed }
  } finally {
    await queue.close()
  }
}

/** Options of a worker. */
export interface WorkerOptions {
  /** Jobs this worker runs at once (each in its own `polyak train` process). */
  readonly concurrency: number
  /** How long a job's lock lasts without renewal: a dead worker's job returns to the queue after about this long. */
  readonly lockMs: number
  readonly every: number
  readonly queueName?: string
  readonly onEvent?: (line: string) => void
}

/** Runs a worker until SIGINT or SIGTERM; resolves when it has closed. */
export const runWorker = async (url: string, o: WorkerOptions): Promise<void> => {
  await checkRedis(url)
  const { bullmq } = await load()
  const name = `${hostname()}:${process.pid}`
  const worker = new bullmq.Worker<QueuedJob>(
    o.queueName ?? DEFAULT_QUEUE,
    async (job) => {
      o.onEvent?.(`${name} started job ${job.data.job.id}`)
      const r = await runJobProcess(job.data.job, job.data.out, { every: o.every, worker: name })
      if (!r.ok) {
        o.onEvent?.(`${name} job ${job.data.job.id} failed: ${r.message}`)
        throw new Error(r.message)
      }
      o.onEvent?.(`${name} finished job ${job.data.job.id}`)
      return { id: r.result.id, seconds: r.result.seconds }
    },
    {
      connection: connectionOf(url),
      concurrency: o.concurrency,
      lockDuration: o.lockMs,
      stalledInterval: Math.max(500, Math.floor(o.lockMs / 2)),
      maxStalledCount: 5,
    },
  )
  worker.on('error', (e) => o.onEvent?.(`${name} error: ${e.message}`))
  o.onEvent?.(`${name} waiting for jobs on '${o.queueName ?? DEFAULT_QUEUE}' (concurrency ${o.concurrency})`)
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  await worker.close()
}
