/** `polyak sweep`: a grid of train files on local worker processes or on BullMQ workers over Redis. @module cli/commands/sweep */
import * as E from 'fp-ts/lib/Either.js'
import { backendNames } from '../../../../backends/index.js'
import { UsageError, checkBackendName, defineCommand } from '../args.js'
import { MAX_INPUT_FLAG, progressLine, readJson, redisError, workerCount } from '../common.js'
import { formatTable } from '../table.js'

export const sweepCommand = defineCommand({
  name: 'sweep',
  usage: 'polyak sweep GRID.json [--workers N] [--out DIR] [--redis URL [--detach]] | polyak sweep --status --redis URL',
  summary: 'run a grid of train configs on local worker processes (default) or on BullMQ workers over Redis; one table and report',
  positionals: { min: 0, max: 1, name: 'GRID.json' },
  flags: {
    workers: { type: 'int', min: 1, max: 1024, value: 'N', help: 'local worker processes (default: the number of cores)' },
    out: {
      type: 'string',
      value: 'DIR',
      default: 'polyak-sweep',
      help: 'folder of the jobs, their checkpoints and results, and the report (shared by all workers with --redis)',
    },
    every: { type: 'int', min: 1, value: 'N', default: 50, help: 'checkpoint every N steps' },
    redis: { type: 'string', value: 'URL', help: 'queue the jobs on BullMQ at redis://HOST:PORT instead of running them here' },
    queue: { type: 'string', value: 'NAME', default: 'polyak-sweep', help: 'BullMQ queue name' },
    detach: { type: 'boolean', help: 'with --redis: queue the jobs and return' },
    status: { type: 'boolean', help: 'with --redis: show the queue' },
    json: { type: 'boolean', help: 'machine-readable output' },
    'max-input-mb': MAX_INPUT_FLAG,
  },
  run: async (v, positionals) => {
    const { redis, queue: queueName } = v
    if (v.status) {
      if (redis === undefined) throw new UsageError('--status needs --redis URL', '--status')
      const { queueStatus } = await import('../../sweep/queue.js')
      const s = await queueStatus(redis, queueName).catch(redisError)
      if (v.json) process.stdout.write(JSON.stringify(s, null, 2) + '\n')
      else {
        process.stdout.write(
          formatTable(
            ['state', 'jobs'],
            Object.entries(s.counts).map(([k, n]) => [k, String(n)]),
          ) + '\n',
        )
        if (s.active.length > 0) process.stdout.write(`\nactive: ${s.active.join(', ')}\n`)
        for (const f of s.failed) process.stdout.write(`failed ${f.id}: ${f.reason.slice(0, 200)}\n`)
      }
      return 0
    }
    const gridFile = positionals[0]
    if (gridFile === undefined) throw new UsageError('expected a grid file: polyak sweep GRID.json (or --status --redis URL)')
    const workers = await workerCount(v.workers)
    const { decodeGrid } = await import('../../sweep/grid.js')
    const grid = await decodeGrid(await readJson(gridFile, v['max-input-mb'], 'the grid', `the grid '${gridFile}'`))
    if (E.isLeft(grid)) throw grid.left
    const g = grid.right
    for (const job of g.jobs) if (job.decoded.backend !== undefined) checkBackendName(job.decoded.backend, backendNames, `job ${job.id}: backend`)
    const { resolve } = await import('node:path')
    const out = resolve(v.out)
    const { checkOutputDir } = await import('../paths.js')
    checkOutputDir(out)
    const { formatProgress } = await import('../../sweep/pool.js')
    const line = progressLine(`sweep ${g.name}`)
    const progress = (p: Parameters<typeof formatProgress>[0]): void => line.show(formatProgress(p))
    let failures: ReadonlyArray<{ id: string; message: string }>
    if (redis !== undefined) {
      const { enqueueSweep, followSweep } = await import('../../sweep/queue.js')
      const q = await enqueueSweep(g, out, redis, queueName).catch(redisError)
      process.stderr.write(`queued ${q.queued} job(s) on '${queueName}' at ${redis} (${q.finished} finished before); results go to ${out}\n`)
      if (v.detach) return 0
      failures = (await followSweep(g, out, redis, queueName, progress)).failures
    } else {
      const { runLocalSweep } = await import('../../sweep/pool.js')
      process.stderr.write(`sweep ${g.name}: ${g.jobs.length} job(s) on ${workers} local worker(s); results go to ${out}\n`)
      failures = (await runLocalSweep(g, out, { workers, every: v.every, onProgress: progress })).failures
    }
    line.end()
    const { aggregate } = await import('../../sweep/aggregate.js')
    const { rows, missing } = await aggregate(g, out)
    if (v.json) process.stdout.write(JSON.stringify({ grid: g.name, out, rows, failures, missing }, null, 2) + '\n')
    else if (rows.length > 0) {
      const keys = Object.keys(rows[0]!)
      process.stdout.write(
        formatTable(
          keys,
          rows.map((r) => keys.map((k) => String(r[k] ?? ''))),
        ) + `\n\nreport: ${out}/index.html\n`,
      )
    }
    for (const f of failures) process.stderr.write(`job ${f.id} failed: ${f.message}\n`)
    return failures.length === 0 ? 0 : 1
  },
})
