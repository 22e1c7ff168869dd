/** `polyak bench`: every job on every available backend, with PyTorch and the memory-bandwidth floor as baselines. @module cli/commands/bench */
import { defineCommand } from '../args.js'
import { backendsFlag } from '../common.js'

export const benchCommand = defineCommand({
  name: 'bench',
  usage: 'polyak bench [--json] [--backend B ...] [--job TEXT ...] [--torch-device cpu|cuda] [--python PATH]',
  summary: 'benchmark every job on every available backend, with PyTorch (CPU or CUDA) and the memory-bandwidth floor as baselines',
  flags: {
    json: { type: 'boolean', help: 'machine-readable output' },
    backend: backendsFlag('only these backends (repeatable)'),
    job: { type: 'strings', value: 'TEXT', help: 'only the jobs whose name contains TEXT, case-insensitive (repeatable)' },
    'torch-device': {
      type: 'choice',
      choices: ['cpu', 'cuda'],
      default: 'cpu',
      help: "where the PyTorch baseline runs: the CPU with 1 thread, or the machine's CUDA GPU (its floor is then the GPU's measured copy bandwidth)",
    },
    python: { type: 'string', value: 'PATH', default: '/usr/bin/python3', help: 'the Python that imports torch' },
  },
  run: async (v) => {
    const { runBench, benchMarkdown } = await import('../../../../bench/index.js')
    const report = await runBench({
      ...(v.backend === undefined ? {} : { backends: v.backend }),
      ...(v.job === undefined ? {} : { jobs: v.job }),
      torch: { device: v['torch-device'], python: v.python },
      onProgress: (line) => process.stderr.write(`${line}\n`),
    })
    process.stdout.write(v.json ? JSON.stringify(report, null, 2) + '\n' : benchMarkdown(report) + '\n')
    return 0
  },
})
