/** `polyak demo`: the main job, EMAN vs BN teacher and the WeightAlign sweep on MNIST. @module cli/commands/demo */
import { defineCommand } from '../args.js'
import { backendFlag, trainingBackend } from '../common.js'

export const demoCommand = defineCommand({
  name: 'demo',
  usage: 'polyak demo [--backend B] [--seed S] [--seeds N] [--full] [--out DIR]',
  summary: 'the main job: EMAN vs BN teacher at 1% labels and a WeightAlign batch-size sweep on MNIST; table + report folder',
  flags: {
    backend: backendFlag('backend (default: the fastest available, wasm here)'),
    seed: { type: 'int', min: 0, value: 'S', default: 0, help: 'first seed' },
    seeds: { type: 'int', min: 1, max: 1000, value: 'N', default: 1, help: 'number of seeds; tables show mean ± std' },
    full: { type: 'boolean', help: 'longer budgets, 10% labels, the self-supervised comparisons' },
    out: { type: 'string', value: 'DIR', default: 'polyak-report', help: 'report folder (created; must not be a file)' },
    scale: { type: 'number', above: 0, max: 10, value: 'X', default: 1, help: 'scale every budget by X in (0, 10]' },
    'train-images': { type: 'int', min: 100, max: 60_000, value: 'N', default: 20000, help: 'MNIST training images used' },
    'test-images': { type: 'int', min: 10, max: 10_000, value: 'N', default: 2000, help: 'MNIST test images used' },
  },
  run: async (v) => {
    const requested = trainingBackend(v.backend, 'the demo')
    const { checkOutputDir } = await import('../paths.js')
    checkOutputDir(v.out) // before any training: a report that cannot be written fails now, not after the runs
    const { fastestAvailable, unsafeUseBackend } = await import('../../../../backends/index.js')
    const backend = requested ?? (await fastestAvailable()).name
    await unsafeUseBackend(backend)
    process.stderr.write(`polyak demo on '${backend}'\n`)
    const { runDemo } = await import('../demo.js')
    const result = await runDemo({
      backend,
      seed: v.seed,
      seeds: v.seeds,
      trainImages: v['train-images'],
      testImages: v['test-images'],
      full: v.full,
      out: v.out,
      scale: v.scale,
    })
    process.stdout.write(`\n${result.summary}\n`)
    return 0
  },
})
