/** `polyak worker`: sweep jobs from a BullMQ queue, each as `polyak train`. @module cli/commands/worker */
import { UsageError, defineCommand } from '../args.js'
import { redisError } from '../common.js'

export const workerCommand = defineCommand({
  name: 'worker',
  usage: 'polyak worker --redis URL [--concurrency K] [--lock-ms MS]',
  summary: "take sweep jobs from a BullMQ queue and run them (each as 'polyak train'), until SIGINT or SIGTERM",
  flags: {
    redis: { type: 'string', value: 'URL', help: 'redis://HOST:PORT of the queue (required)' },
    concurrency: { type: 'int', min: 1, max: 256, value: 'K', default: 1, help: 'jobs at once, each in its own process' },
    'lock-ms': { type: 'int', min: 1000, max: 3_600_000, value: 'MS', default: 30000, help: "a dead worker's job returns to the queue after about this long" },
    every: { type: 'int', min: 1, value: 'N', default: 50, help: 'checkpoint every N steps' },
    queue: { type: 'string', value: 'NAME', default: 'polyak-sweep', help: 'BullMQ queue name' },
  },
  run: async (v) => {
    if (v.redis === undefined) throw new UsageError('--redis URL is required: polyak worker --redis redis://HOST:PORT', '--redis')
    const { runWorker } = await import('../../sweep/queue.js')
    await runWorker(v.redis, {
      concurrency: v.concurrency,
      lockMs: v['lock-ms'],
      every: v.every,
      queueName: v.queue,
      onEvent: (line) => process.stderr.write(`${line}\n`),
    }).catch(redisError)
    return 0
  },
})
