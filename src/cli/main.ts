#!/usr/bin/env node
/**
 * The `polyak` command line.
 *
 * @module cli/main
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import * as E from 'fp-ts/lib/Either.js'
import { backends, probeBackends } from '../../backends/index.js'
import { ConfigError } from '../codecs/config.js'
import { decodeSpec, runSpec } from './apply.js'
import { formatTable } from './table.js'

const HELP = `polyak: normalizers and moving-average teachers as pure state transitions on TensorFlow.js

Usage:
  polyak demo [--backend B] [--seed S] [--seeds N] [--full] [--out DIR]
                                           the main job: EMAN vs BN teacher at 1% labels and a
                                           WeightAlign batch-size sweep on MNIST; table + report folder
  polyak train CONFIG.json [--backend B] [--checkpoint FILE] [--every N] [--resume]
                                           run one pipeline from a validated config file
  polyak bench [--json] [--backend B]      benchmark every job on every available backend, with
                                           PyTorch CPU and the memory-bandwidth floor as baselines
  polyak backends [--json]                 list every backend, whether it can run here, and why not
  polyak apply [SPEC.json|-] [--backend B] run one normalizer / EMA / teacher update from a JSON spec
                                           (stdin when no file or '-'); prints {outputs, params, stats}
  polyak laws [--backend B] [--runs N] [--seed S] [--json]
                                           run the law catalogue against polyak's own subjects on a
                                           backend; prints law x subject, pass/fail, seeds to replay
  polyak playground [--port N] [--isolate] serve the playground page on 127.0.0.1 (default port 8080):
                                           BN vs EMAN teacher, WeightAlign sweep and the laws, in the
                                           browser on webgpu, wasm or cpu; --isolate adds COOP/COEP
  polyak help                              this text

Options:
  --json                     machine-readable output
  --backend NAME             cpu (default for apply and laws), wasm, webgpu, tensorflow, reference
  --runs N                   random inputs per law (laws; default 50)
  --seed S                   fast-check seed, to replay a failure (laws)
`

const backendsCommand = async (argv: string[]): Promise<number> => {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false } }, strict: true })
  const rows = await probeBackends()
  // details (the WebGPU adapter, the tfjs-wasm build, whether polyak's kernels are on) need each backend active once
  const details = new Map<string, Readonly<Record<string, string>>>()
  for (const r of rows) {
    if (!r.available) continue
    const d = backends.find((b) => b.name === r.name)!
    await d.activate()
    details.set(r.name, await d.details())
  }
  if (values.json) {
    process.stdout.write(
      JSON.stringify(
        rows.map((r) => (r.available ? { name: r.name, available: true, details: details.get(r.name) ?? {} } : { name: r.name, available: false, reason: r.reason })),
        null,
        2,
      ) + '\n',
    )
  } else {
    const facts = (name: string): string =>
      Object.entries(details.get(name) ?? {})
        .map(([k, v]) => `${k}: ${v}`)
        .join('; ')
    process.stdout.write(
      formatTable(
        ['backend', 'available', 'why not / what it is'],
        rows.map((r) => [r.name, r.available ? 'yes' : 'no', r.available ? [r.description, facts(r.name)].filter((x) => x !== '').join('; ') : (r.reason ?? '')]),
      ) + '\n',
    )
  }
  return 0
}

const readStdin = async (): Promise<string> => {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

const applyCommand = async (argv: string[]): Promise<number> => {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { backend: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  })
  if (positionals.length > 1) throw Object.assign(new TypeError(`expected at most one spec file, got ${positionals.join(' ')}`), { code: 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' })
  const file = positionals[0]
  const text = file === undefined || file === '-' ? await readStdin() : await readFile(file, 'utf8')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    process.stderr.write(`polyak apply: the spec is not valid JSON: ${(e as Error).message}\n`)
    return 2
  }
  const spec = decodeSpec(json)
  if (E.isLeft(spec)) {
    process.stderr.write(`polyak apply: ${spec.left.message}\n`)
    return 2
  }
  try {
    const result = await runSpec(spec.right, values.backend ?? 'cpu')
    process.stdout.write(JSON.stringify(result) + '\n')
    return 0
  } catch (e) {
    process.stderr.write(`polyak apply: ${e instanceof Error ? e.message : String(e)}\n`)
    return e instanceof ConfigError ? 2 : 1
  }
}

const lawsCommand = async (argv: string[]): Promise<number> => {
  const { values } = parseArgs({
    args: argv,
    options: { backend: { type: 'string', default: 'cpu' }, runs: { type: 'string', default: '50' }, seed: { type: 'string' }, json: { type: 'boolean', default: false } },
    strict: true,
  })
  const runs = Number(values.runs)
  if (!Number.isInteger(runs) || runs < 1) throw Object.assign(new TypeError(`--runs must be an integer ≥ 1, got ${values.runs}`), { code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' })
  const seed = values.seed === undefined ? undefined : Number(values.seed)
  if (seed !== undefined && !Number.isInteger(seed)) throw Object.assign(new TypeError(`--seed must be an integer, got ${values.seed}`), { code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' })
  // fast-check is an optional peer dependency: load the laws only when asked for.
  let laws: typeof import('../../laws/index.js')
  try {
    laws = await import('../../laws/index.js')
  } catch (e) {
    process.stderr.write(`polyak laws: the laws need fast-check (an optional peer dependency): npm install fast-check\n(${(e as Error).message})\n`)
    return 1
  }
  const { unsafeUseBackend, forceGpuKernels } = await import('../../backends/index.js')
  const { ops } = await unsafeUseBackend(values.backend)
  if (values.backend === 'webgpu') await forceGpuKernels() // check the GPU kernels, not tfjs's CPU forwarding
  const results = await laws.runCatalogue(ops as never, { numRuns: runs, ...(seed === undefined ? {} : { seed }) }, (r) => {
    if (!values.json) process.stderr.write(`${r.ok ? '.' : 'F'}`)
  })
  if (!values.json) process.stderr.write('\n')
  const failed = results.filter((r) => !r.ok)
  if (values.json) {
    process.stdout.write(
      JSON.stringify(
        {
          backend: values.backend,
          runs,
          passed: failed.length === 0,
          results: results.map((r) => ({
            law: r.law,
            subject: r.subject,
            expect: r.expect,
            outcome: r.passed ? 'pass' : 'fail',
            ok: r.ok,
            seed: r.seed,
            ...(r.ok ? {} : { counterexample: r.counterexample, error: r.error }),
          })),
        },
        null,
        2,
      ) + '\n',
    )
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
    process.stdout.write(`\n${results.length - failed.length} of ${results.length} laws as expected on '${values.backend}' (${runs} inputs each)\n`)
    for (const f of failed) process.stdout.write(`\n${f.law} on ${f.subject}: ${f.error ?? ''}\n  counterexample: ${f.counterexample ?? '?'}\n  replay: polyak laws --backend ${values.backend} --seed ${f.seed}\n`)
  }
  return failed.length === 0 ? 0 : 1
}

const demoCommand = async (argv: string[]): Promise<number> => {
  const { values } = parseArgs({
    args: argv,
    options: {
      backend: { type: 'string' },
      seed: { type: 'string', default: '0' },
      seeds: { type: 'string', default: '1' },
      full: { type: 'boolean', default: false },
      out: { type: 'string', default: 'polyak-report' },
      scale: { type: 'string', default: '1' },
      'train-images': { type: 'string', default: '20000' },
      'test-images': { type: 'string', default: '2000' },
    },
    strict: true,
  })
  const int = (name: string, v: string, min: number): number => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < min) throw Object.assign(new TypeError(`--${name} must be an integer ≥ ${min}, got ${v}`), { code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' })
    return n
  }
  const scale = Number(values.scale)
  if (!(scale > 0 && scale <= 10)) throw Object.assign(new TypeError(`--scale must be in (0, 10], got ${values.scale}`), { code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' })
  const { fastestAvailable, unsafeUseBackend } = await import('../../backends/index.js')
  const backend = values.backend ?? (await fastestAvailable()).name
  if (backend === 'reference') throw new Error("the demo trains with tfjs gradients; choose a tfjs backend (wasm, webgpu, cpu, tensorflow)")
  await unsafeUseBackend(backend)
  process.stderr.write(`polyak demo on '${backend}'\n`)
  const { runDemo } = await import('./demo.js')
  const result = await runDemo({
    backend,
    seed: int('seed', values.seed, 0),
    seeds: int('seeds', values.seeds, 1),
    full: values.full,
    out: values.out,
    scale,
    trainImages: int('train-images', values['train-images'], 100),
    testImages: int('test-images', values['test-images'], 10),
  })
  process.stdout.write(`\n${result.summary}\n`)
  return 0
}

const trainCommand = async (argv: string[]): Promise<number> => {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { backend: { type: 'string' }, checkpoint: { type: 'string' }, every: { type: 'string', default: '100' }, resume: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
    allowPositionals: true,
    strict: true,
  })
  if (positionals.length !== 1) throw Object.assign(new TypeError('expected one config file: polyak train CONFIG.json'), { code: 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' })
  let json: unknown
  try {
    json = JSON.parse(await readFile(positionals[0]!, 'utf8'))
  } catch (e) {
    process.stderr.write(`polyak train: cannot read '${positionals[0]}' as JSON: ${(e as Error).message}\n`)
    return 2
  }
  const { decodeTrainFile } = await import('../train/trainConfig.js')
  const file = decodeTrainFile(json)
  if (E.isLeft(file)) {
    process.stderr.write(`polyak train: ${file.left.message}\n`)
    return 2
  }
  const every = Number(values.every)
  if (!Number.isInteger(every) || every < 1) throw Object.assign(new TypeError(`--every must be an integer ≥ 1, got ${values.every}`), { code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' })
  if (values.resume && values.checkpoint === undefined) throw Object.assign(new TypeError('--resume needs --checkpoint FILE'), { code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' })
  const f = file.right
  const { fastestAvailable, unsafeUseBackend } = await import('../../backends/index.js')
  const backend = values.backend ?? f.backend ?? (await fastestAvailable()).name
  await unsafeUseBackend(backend)
  const { loadMnist } = await import('../node/mnist.js')
  const train = loadMnist('train', { limit: f.data.trainImages, factor: 2 })
  const test = loadMnist('test', { limit: f.data.testImages, factor: 2 })
  const { progressBar } = await import('./demo.js')
  let result: unknown
  if (f.kind === 'semiSupervised') {
    if (values.resume) process.stderr.write(`resuming from ${values.checkpoint}\n`)
    const { runSemiSupervised } = await import('../train/semiSupervised.js')
    const { checkpointFile } = await import('../node/checkpointFile.js')
    const bar = progressBar(`semi ${f.config.teacher} teacher`, f.config.steps)
    const r = await runSemiSupervised(f.config, train, test, (s, m, p) => bar.update(s, `loss ${m.loss!.toFixed(3)}${p ? ` acc ${(100 * (p.teacher ?? p.student)).toFixed(1)}` : ''}`), {
      ...(values.checkpoint === undefined ? {} : { checkpoint: { store: checkpointFile(values.checkpoint), every } }),
      ...(values.resume ? { resumeFrom: checkpointFile(values.checkpoint!) } : {}),
    })
    bar.done(`student ${(100 * r.final.student).toFixed(1)}%${r.final.teacher === undefined ? '' : `, teacher ${(100 * r.final.teacher).toFixed(1)}%`}`)
    result = { kind: f.kind, backend, final: r.final, curve: r.curve, seconds: r.seconds }
  } else if (f.kind === 'selfSupervised') {
    if (values.checkpoint !== undefined) throw new Error('checkpoints are implemented for semiSupervised runs; selfSupervised runs restart')
    const { runSelfSupervised } = await import('../train/selfSupervised.js')
    const bar = progressBar(`ssl ${f.config.method}`, f.config.steps)
    const r = await runSelfSupervised(f.config, train, test, (s, m) => bar.update(s, `loss ${m.loss!.toFixed(3)}`))
    bar.done(`linear probe ${(100 * r.linearProbe).toFixed(1)}%, kNN ${(100 * r.knn).toFixed(1)}%`)
    result = { kind: f.kind, backend, linearProbe: r.linearProbe, knn: r.knn, finalLoss: r.finalLoss, seconds: r.seconds }
  } else {
    if (values.checkpoint !== undefined) throw new Error('checkpoints are implemented for semiSupervised runs; supervised runs restart')
    const { runSupervised } = await import('../train/supervised.js')
    const bar = progressBar(`supervised ${f.config.norm}`, Math.ceil(f.config.samples / f.config.batchSize))
    const r = await runSupervised(f.config, train, test, (s, _n, m) => bar.update(s, m ? `loss ${m.loss!.toFixed(3)}` : ''))
    bar.done(`accuracy ${(100 * r.accuracy).toFixed(1)}%`)
    result = { kind: f.kind, backend, accuracy: r.accuracy, steps: r.steps, seconds: r.seconds }
  }
  process.stdout.write(JSON.stringify(result, null, values.json ? 0 : 2) + '\n')
  return 0
}

const benchCommand = async (argv: string[]): Promise<number> => {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false }, backend: { type: 'string', multiple: true } }, strict: true })
  const { runBench, benchMarkdown } = await import('../../bench/index.js')
  const report = await runBench({ ...(values.backend === undefined ? {} : { backends: values.backend }), onProgress: (line) => process.stderr.write(`${line}\n`) })
  process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : benchMarkdown(report) + '\n')
  return 0
}

const playgroundCommand = async (argv: string[]): Promise<number> => {
  const { values } = parseArgs({ args: argv, options: { port: { type: 'string', default: '8080' }, isolate: { type: 'boolean', default: false } }, strict: true })
  const port = Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw Object.assign(new TypeError(`--port must be an integer in [0, 65535], got ${values.port}`), { code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' })
  const { servePlayground } = await import('./playground.js')
  const { server, url } = await servePlayground({ port, isolate: values.isolate })
  process.stdout.write(`polyak playground: ${url}${values.isolate ? ' (cross-origin isolated)' : ''}\nCtrl-C stops it.\n`)
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

const commands: Record<string, (argv: string[]) => Promise<number>> = {
  playground: playgroundCommand,
  demo: demoCommand,
  bench: benchCommand,
  train: trainCommand,
  backends: backendsCommand,
  apply: applyCommand,
  laws: lawsCommand,
  help: () => {
    process.stdout.write(HELP)
    return Promise.resolve(0)
  },
}

const main = async (argv: string[]): Promise<number> => {
  const [name = 'help', ...rest] = argv
  if (name === '--help' || name === '-h') return commands.help!(rest)
  const command = commands[name]
  if (command === undefined) {
    process.stderr.write(`polyak: unknown command '${name}'\n\n${HELP}`)
    return 2
  }
  try {
    return await command(rest)
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e)
    process.stderr.write(`polyak ${name}: ${msg}\n`)
    // Usage errors (unknown option, missing value) exit 2, like the unknown command above.
    const usage = String((e as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS')
    if (usage) process.stderr.write(`\n${HELP}`)
    return usage ? 2 : 1
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
