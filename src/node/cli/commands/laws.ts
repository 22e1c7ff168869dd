/** `polyak laws`: the law catalogue on a backend, a user's subjects, or the power of the laws. @module cli/commands/laws */
import type { Ops } from '../../../core/ops.js'
import type { Leaf } from '../../../core/tree.js'
import { UsageError, defineCommand } from '../args.js'
import { backendFlag } from '../common.js'
import { formatTable } from '../table.js'

type Laws = typeof import('../../../../laws/index.js')

/** The catalogue entries of a user's module (`--subject`), loaded after the backend is active. */
const subjectEntries = async (laws: Laws, file: string): Promise<ReturnType<Laws['subjectEntries']>> => {
  const { checkInputFile } = await import('../paths.js')
  checkInputFile(file, '--subject')
  const { pathToFileURL } = await import('node:url')
  const { resolve } = await import('node:path')
  let mod: Record<string, unknown>
  try {
    mod = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>
  } catch (e) {
    throw new UsageError(`--subject: cannot load '${file}' as an ES module: ${(e as Error).message.split('\n')[0]}`, '--subject')
  }
  try {
    return laws.subjectEntries(mod, file)
  } catch (e) {
    throw new UsageError(`--subject: ${(e as Error).message}`, '--subject')
  }
}

const power = async (
  laws: Laws,
  ops: Ops<Leaf>,
  o: { backend: string; runs: number; trials: number; seed: number | undefined; json: boolean },
): Promise<number> => {
  const t0 = Date.now()
  const results = await laws.lawPower(ops, {
    trials: o.trials,
    numRuns: o.runs,
    ...(o.seed === undefined ? {} : { seed: o.seed }),
    onResult: (r) => o.json || process.stderr.write(`${r.law} on ${r.subject}: ${r.smallest ?? '> 0.1'}\n`),
  })
  const seconds = (Date.now() - t0) / 1000
  if (o.json) {
    process.stdout.write(JSON.stringify({ backend: o.backend, runs: o.runs, trials: o.trials, seconds, results }, null, 2) + '\n')
    return 0
  }
  process.stdout.write(
    formatTable(
      ['law', 'subject', 'planted error', 'smallest δ detected in ≥ 99 % of runs'],
      results.map((r) => [r.law, r.subject, r.bugClass, r.smallest === undefined ? 'none up to 0.1' : String(r.smallest)]),
    ) + '\n',
  )
  process.stdout.write(`\n${results.length} laws, ${o.trials} seeds per δ, ${o.runs} inputs per run, on '${o.backend}', in ${seconds.toFixed(0)} s\n`)
  return 0
}

export const lawsCommand = defineCommand({
  name: 'laws',
  usage: 'polyak laws [--backend B] [--runs N] [--seed S] [--subject MODULE.js] [--power [--trials N]] [--json]',
  summary: "run the law catalogue against polyak's own subjects (or your module's) on a backend; prints law x subject, pass/fail, seeds to replay",
  flags: {
    backend: { ...backendFlag(), default: 'cpu' },
    runs: { type: 'int', min: 1, max: 1_000_000, value: 'N', default: 50, help: 'random inputs per law' },
    seed: { type: 'int', min: -(2 ** 31), max: 2 ** 31 - 1, value: 'S', help: 'fast-check seed, to replay a failure' },
    'config-seed': { type: 'int', min: 0, max: 2 ** 31 - 1, value: 'S', default: 0, help: "seed of the configs drawn from the normalizers' codecs" },
    subject: {
      type: 'string',
      value: 'MODULE.js',
      help: 'check the subjects an ES module exports (emaStep, ema, teacherUpdate, teacherPresets, batchNorm, groupNorm, batchForward, momentumBatchNorm, weightAlign, weightStandardization, transition, schedule, model, layersTeacher)',
    },
    power: { type: 'boolean', help: 'measure the smallest planted error each law detects with 99% probability' },
    trials: { type: 'int', min: 1, max: 100_000, value: 'N', default: 100, help: 'seeds per planted error, with --power' },
    json: { type: 'boolean', help: 'machine-readable output' },
  },
  run: async (v) => {
    const { backend, runs, seed, json } = v
    const configSeed = v['config-seed']
    if (v.power && v.subject !== undefined) throw new UsageError("--power measures the laws on polyak's own subjects; it does not take --subject", '--power')
    // fast-check is an optional peer dependency: load the laws only when asked for
    let laws: Laws
    try {
      laws = await import('../../../../laws/index.js')
    } catch (e) {
      process.stderr.write(
        `polyak laws: the laws need fast-check (an optional peer dependency): npm install fast-check\n(${(e as Error).message.split('\n')[0]})\n`,
      )
      return 1
    }
    // the backend first: a subject module may build models or tensors when it loads
    const { unsafeUseBackend, forceGpuKernels } = await import('../../../../backends/index.js')
    const { ops } = await unsafeUseBackend(backend)
    if (backend === 'webgpu') await forceGpuKernels() // check the GPU kernels, not tfjs's CPU forwarding
    const entries = v.subject === undefined ? undefined : await subjectEntries(laws, v.subject)
    if (v.power) return power(laws, ops, { backend, runs, trials: v.trials, seed, json })

    const options = { numRuns: runs, configSeed, ...(seed === undefined ? {} : { seed }) }
    const progress = (r: { ok: boolean }): void => {
      if (!json) process.stderr.write(`${r.ok ? '.' : 'F'}`)
    }
    const t0 = Date.now()
    const results = entries === undefined ? await laws.runCatalogue(ops, options, progress) : await laws.runEntries(ops, entries, options, progress)
    const seconds = (Date.now() - t0) / 1000
    if (!json) process.stderr.write('\n')
    const failed = results.filter((r) => !r.ok)
    const replay = `polyak laws --backend ${backend}${v.subject === undefined ? '' : ` --subject ${v.subject}`}${configSeed === 0 ? '' : ` --config-seed ${configSeed}`} --runs ${runs}`
    if (json) {
      const out = {
        backend,
        runs,
        seconds,
        passed: failed.length === 0,
        results: results.map((r) => ({
          law: r.law,
          subject: r.subject,
          expect: r.expect,
          outcome: r.passed ? 'pass' : 'fail',
          ok: r.ok,
          seed: r.seed,
          ...(r.ok ? {} : { counterexample: r.counterexample, error: r.error, replay: `${replay} --seed ${r.seed}` }),
        })),
      }
      process.stdout.write(JSON.stringify(out, null, 2) + '\n')
    } else {
      process.stdout.write(
        formatTable(
          ['law', 'subject', 'result', 'seed'],
          results.map((r) => [
            r.law,
            r.subject,
            r.ok ? (r.expect === 'fail' ? 'fails, as it must' : 'pass') : r.expect === 'fail' ? 'PASSED but must fail' : 'FAIL',
            r.ok ? '' : String(r.seed),
          ]),
        ) + '\n',
      )
      process.stdout.write(
        `\n${results.length - failed.length} of ${results.length} laws as expected on '${backend}' (${runs} inputs each, ${seconds.toFixed(1)} s)\n`,
      )
      for (const f of failed)
        process.stdout.write(
          `\n${f.law} on ${f.subject}: ${f.error ?? ''}\n  counterexample: ${f.counterexample ?? '?'}\n  replay: ${replay} --seed ${f.seed}\n`,
        )
    }
    return failed.length === 0 ? 0 : 1
  },
})
