/**
 * A sweep on BullMQ workers over Redis (Debian's redis-server on a loopback port): two workers take
 * the jobs; one is killed with SIGKILL in the middle of a job; BullMQ's stalled-job check gives the
 * job to the other worker, which resumes it from its checkpoint. Every job's result and final
 * checkpoint are bitwise equal to a local run of the same grid, and no job is lost or run twice.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeGrid } from '../../src/node/sweep/grid.js'
import { polyak } from '../support/cli.js'
import { tinySemiFile } from '../support/data.js'
import { redisMissing, redisRequired, startRedis } from '../support/redis.js'

const cli = fileURLToPath(new URL('../../dist/src/node/cli/main.js', import.meta.url))
const missing = redisMissing()
if (missing !== undefined && !redisRequired()) console.warn(`[polyak tests] skipping the distributed sweep: ${missing}`)

const grid = {
  name: 'kill-a-worker',
  base: tinySemiFile({ steps: 400, evalEvery: 100 }),
  product: { 'config.teacher': ['bn', 'eman'], 'config.seed': [0, 1] },
}

interface Worker {
  readonly child: ChildProcess
  log: string
}
const startWorker = (url: string): Worker => {
  const child = spawn(process.execPath, [cli, 'worker', '--redis', url, '--lock-ms', '3000', '--every', '20'], { stdio: ['ignore', 'ignore', 'pipe'] })
  const w: Worker = { child, log: '' }
  child.stderr!.on('data', (d: Buffer) => (w.log += d.toString()))
  return w
}
const waitFor = async (what: string, f: () => boolean, ms = 120_000): Promise<void> => {
  const deadline = Date.now() + ms
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe.skipIf(missing !== undefined && !redisRequired())('polyak sweep --redis with two workers, one killed', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>
  const workers: Worker[] = []
  beforeAll(async () => {
    if (missing !== undefined) throw new Error(`POLYAK_REQUIRE_REDIS=1 but ${missing}`)
    redis = await startRedis()
  })
  afterAll(async () => {
    for (const w of workers) w.child.kill('SIGKILL')
    await redis?.stop()
  })

  it('completes every job once, bitwise equal to a local run, after a SIGKILL mid-job', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'polyak-dist-'))
    writeFileSync(join(dir, 'grid.json'), JSON.stringify(grid))
    const local = await polyak(['sweep', 'grid.json', '--workers', '2', '--every', '20', '--out', 'local', '--json'], { cwd: dir })
    expect(local.code, local.stderr).toBe(0)

    const a = startWorker(redis.url)
    workers.push(a)
    await waitFor('worker A to listen', () => a.log.includes('waiting for jobs'))
    const t0 = Date.now()
    const sweep = polyak(['sweep', 'grid.json', '--redis', redis.url, '--every', '20', '--out', 'dist', '--json'], { cwd: dir, timeoutMs: 300_000 })
    // A takes the first job; once it has written a checkpoint, it dies
    await waitFor('worker A to start a job', () => /started job (\w+)/.test(a.log))
    const victim = /started job (\w+)/.exec(a.log)![1]!
    const checkpoint = join(dir, 'dist', 'jobs', victim, 'checkpoint.json')
    await waitFor('a checkpoint of the victim job', () => existsSync(checkpoint))
    const b = startWorker(redis.url)
    workers.push(b)
    a.child.kill('SIGKILL')
    const killedAtStep = (JSON.parse(readFileSync(checkpoint, 'utf8')) as { step: number }).step

    const r = await sweep
    const seconds = (Date.now() - t0) / 1000
    expect(r.code, r.stderr).toBe(0)
    expect(b.log).toContain(`started job ${victim}`)
    expect(b.log).toContain(`finished job ${victim}`)

    const g = await decodeGrid(grid)
    if (g._tag === 'Left') throw g.left
    for (const job of g.right.jobs) {
      const d = JSON.parse(readFileSync(join(dir, 'dist', 'jobs', job.id, 'result.json'), 'utf8')) as {
        result: { final: unknown; curve: unknown }
        worker: string
      }
      const l = JSON.parse(readFileSync(join(dir, 'local', 'jobs', job.id, 'result.json'), 'utf8')) as { result: { final: unknown; curve: unknown } }
      expect(d.result.final, `job ${job.id}`).toEqual(l.result.final)
      expect(d.result.curve, `job ${job.id}`).toEqual(l.result.curve)
      const dc = JSON.parse(readFileSync(join(dir, 'dist', 'jobs', job.id, 'checkpoint.json'), 'utf8')) as Record<string, unknown>
      const lc = JSON.parse(readFileSync(join(dir, 'local', 'jobs', job.id, 'checkpoint.json'), 'utf8')) as Record<string, unknown>
      expect(dc.step).toBe(400)
      for (const slot of ['student', 'teacher', 'opt']) expect(dc[slot], `job ${job.id} ${slot}`).toEqual(lc[slot])
    }
    // no job lost or run twice: each finished exactly once, none failed
    const finished = [...a.log.matchAll(/finished job (\w+)/g), ...b.log.matchAll(/finished job (\w+)/g)].map((m) => m[1])
    expect(finished.sort()).toEqual(g.right.jobs.map((j) => j.id).sort())
    const status = await polyak(['sweep', '--status', '--redis', redis.url, '--json'])
    const counts = (JSON.parse(status.stdout) as { counts: Record<string, number> }).counts
    expect(counts).toMatchObject({ completed: 4, failed: 0, active: 0, waiting: 0 })
    console.log(
      `[sweep] 2 workers over Redis, worker A killed at step ${killedAtStep} of job ${victim}: 4 jobs in ${seconds.toFixed(1)} s, all bitwise equal to the local run`,
    )
  }, 300_000)
})
