/** `polyak bench`: every job on every available backend, with PyTorch and the memory-bandwidth floor as baselines. @module cli/commands/bench */
import { defineCommand } from '../args.js'
import { backendsFlag } from '../common.js'

export const benchCommand = defineCommand({
  name: 'bench',
  usage: 'polyak bench [--json] [--backend B ...] [--job TEXT ...] [--torch-device cpu|cuda] [--python PATH] [--profile [--steps N]]',
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
    profile: {
      type: 'boolean',
      help: 'instead of timing: where each train step (or each --job) spends its time, kernel by kernel (calls, ms, share), on every backend',
    },
    steps: { type: 'int', min: 1, max: 100, value: 'N', default: 3, help: 'with --profile: profiled steps per job (after 2 warm-up steps)' },
  },
  run: async (v) => {
    if (v.profile) {
      const { profileBench, profileMarkdown } = await import('../../../../bench/profile.js')
      const profiles = await profileBench({
        ...(v.backend === undefined ? {} : { backends: v.backend }),
        ...(v.job === undefined ? {} : { jobs: v.job }),
        steps: v.steps,
        onProgress: (line) => process.stderr.write(`${line}\n`),
      })
      process.stdout.write(v.json ? JSON.stringify(profiles, null, 2) + '\n' : profileMarkdown(profiles) + '\n')
      return 0
    }
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
