/**
 * `npm run bench:peer [-- --backend wasm --job TEXT --rounds N --json]`: `polyak bench`'s jobs
 * against the TypeScript peer jax-js (`@jax-js/jax`, a devDependency) in one process, on each
 * backend both can use (wasm; webgpu through the same Dawn adapter polyak uses in Node).
 *
 * Per backend and job: every program is checked first (the EMA against its formula, BatchNorm's
 * output moments, a train step's loss falling on a fixed batch; polyak's jobs are checked by its
 * laws and parity suites), then `rounds` interleaved rounds, each timing polyak, jax-js jitted and
 * jax-js eager (median of `repeats` runs after a warm-up). A round's ratio is polyak ÷ the faster
 * jax-js mode of that round; the row's ratio is the median over rounds. Below 1, polyak is faster.
 * A jax-js mode whose check fails, or takes longer than `4·slowMs`, or whose first timed run takes
 * longer than `slowMs`, is left out with the reason (the time it took).
 *
 * @module bench/peer
 */
import * as tf from '@tensorflow/tfjs-core'
import { backends, forceGpuKernels, unsafeUseBackend } from '../backends/index.js'
import { commandHelp, defineCommand, exitCodeOf, parseCommand } from '../src/node/cli/args.js'
import { resnet18Shapes, selectJobs, time, type Timing, timingOf } from './index.js'
import { CNN, type PeerJob, type PeerMode, RESNET20, TooSlow, bnForwardJob, emaJob, trainStepJob } from './peerJobs.js'

/** The jobs both sides run. */
export const PEER_JOBS: readonly PeerJob[] = [
  emaJob(resnet18Shapes()),
  bnForwardJob,
  trainStepJob('small CNN train step, batch 64', 'small CNN train step', CNN),
  trainStepJob('CIFAR ResNet-20 train step, batch 64', 'CIFAR ResNet-20 train step', RESNET20),
]

/** One row: a job on a backend. */
export interface PeerRow {
  readonly job: string
  readonly backend: string
  readonly polyak?: Timing
  readonly jit?: Timing
  readonly eager?: Timing
  /** Median over rounds of polyak ÷ the faster jax-js mode. */
  readonly ratio?: number
  readonly ratioRange?: readonly [number, number]
  /** Which jax-js mode was faster in most rounds. */
  readonly best?: PeerMode
  /** Why a mode (or the row) is missing. */
  readonly notes: readonly string[]
}

/** Options of a peer run. */
export interface PeerOptions {
  readonly backends?: readonly string[]
  readonly jobs?: readonly string[]
  readonly rounds?: number
  readonly repeats?: number
  /** A jax-js mode whose check takes longer than 4 × this, or whose first timed run takes longer, is left out (default 30 s). */
  readonly slowMs?: number
  readonly onProgress?: (line: string) => void
}

/** The installed jax-js version (its package.json, next to its dist/ folder: the package exports no ./package.json). */
const peerVersion = async (): Promise<string> => {
  const { createRequire } = await import('node:module')
  const { dirname, join } = await import('node:path')
  const { readFileSync } = await import('node:fs')
  const entry = createRequire(import.meta.url).resolve('@jax-js/jax')
  return (JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string }).version
}

/** Runs every peer job on every backend both sides have (module doc). */
export const runPeerBench = async (o: PeerOptions = {}): Promise<{ rows: PeerRow[]; jaxVersion: string; seconds: number }> => {
  const t0 = Date.now()
  const say = o.onProgress ?? (() => undefined)
  const rounds = o.rounds ?? 3
  const repeats = o.repeats ?? 3
  const slowMs = o.slowMs ?? 30_000
  const jobs = PEER_JOBS.filter((j) => o.jobs === undefined || o.jobs.some((w) => j.name.toLowerCase().includes(w.toLowerCase())))
  if (jobs.length === 0) throw new Error(`no peer job's name contains ${o.jobs!.join(' or ')}; the jobs: ${PEER_JOBS.map((j) => j.name).join('; ')}`)
  const jax = await import('@jax-js/jax')
  const jaxVersion = await peerVersion()
  const rows: PeerRow[] = []
  for (const name of o.backends ?? ['wasm', 'webgpu']) {
    const d = backends.find((b) => b.name === name)
    const a = d === undefined ? { available: false as const, reason: 'no such backend' } : await d.probe()
    if (!a.available) {
      rows.push({ job: '(all)', backend: name, notes: [`polyak: unavailable: ${a.reason}`] })
      continue
    }
    const { ops } = await unsafeUseBackend(name)
    if (name === 'webgpu') await forceGpuKernels()
    // polyak's activation installs navigator.gpu in Node (Dawn): jax-js finds the same adapter there,
    // and reads navigator.userAgent to tune for a browser, which Node 20's navigator lacks
    const nav = (globalThis as { navigator?: { userAgent?: string } }).navigator
    if (nav !== undefined && nav.userAgent === undefined) nav.userAgent = `Node.js/${process.versions.node}`
    const devices = await jax.init(name as 'wasm' | 'webgpu')
    if (!devices.includes(name as 'wasm')) {
      rows.push({ job: '(all)', backend: name, notes: [`jax-js: no ${name} device here (it found ${devices.join(', ')})`] })
      continue
    }
    jax.defaultDevice(name as 'wasm')
    for (const job of jobs) {
      const notes: string[] = []
      const ours = selectJobs([job.polyakJob])[0]!
      const skip = ours.skip?.(name)
      if (skip !== undefined) {
        rows.push({ job: job.name, backend: name, notes: [`polyak: skipped: ${skip}`] })
        continue
      }
      const polyak = ours.setup(ops)
      const peers: Partial<Record<PeerMode, { run: () => Promise<void>; dispose: () => void }>> = {}
      try {
        for (const mode of ['jit', 'eager'] as const) {
          let p: Awaited<ReturnType<PeerJob['setup']>> | undefined
          try {
            p = await job.setup(jax, mode)
            const started = performance.now()
            const problem = await p.check(4 * slowMs)
            if (problem !== undefined) {
              notes.push(`jax-js ${mode}: check failed: ${problem}`)
              p.dispose()
              continue
            }
            const first = performance.now()
            await p.run()
            const once = performance.now() - first
            if (once > slowMs) {
              notes.push(
                `jax-js ${mode}: left out, one run took ${(once / 1000).toFixed(1)} s (check included: ${((performance.now() - started) / 1000).toFixed(1)} s)`,
              )
              p.dispose()
              continue
            }
            peers[mode] = p
          } catch (e) {
            p?.dispose()
            if (e instanceof TooSlow) {
              notes.push(`jax-js ${mode}: left out, too slow to time: ${e.message}`)
              continue
            }
            notes.push(`jax-js ${mode}: failed: ${(e as Error).message.split('\n')[0]!.slice(0, 200)}`)
          }
        }
        const times: { polyak: number[]; jit: number[]; eager: number[] } = { polyak: [], jit: [], eager: [] }
        const ratios: number[] = []
        const wins: PeerMode[] = []
        for (let r = 0; r < rounds; r++) {
          const p = await time(polyak.run, { warmup: r === 0 ? 2 : 1, repeats })
          times.polyak.push(p.median)
          const round: Partial<Record<PeerMode, number>> = {}
          for (const mode of ['jit', 'eager'] as const) {
            const peer = peers[mode]
            if (peer === undefined) continue
            round[mode] = (await time(peer.run, { warmup: 1, repeats })).median
            times[mode].push(round[mode])
          }
          const best = (['jit', 'eager'] as const).filter((m) => round[m] !== undefined).sort((x, y) => round[x]! - round[y]!)[0]
          if (best !== undefined) {
            ratios.push(p.median / round[best]!)
            wins.push(best)
          }
          say(
            `${name.padEnd(6)} ${job.name}, round ${r + 1}/${rounds}: polyak ${p.median.toFixed(1)} ms` +
              (['jit', 'eager'] as const)
                .filter((m) => round[m] !== undefined)
                .map((m) => `, jax-js ${m} ${round[m]!.toFixed(1)} ms`)
                .join(''),
          )
        }
        const timing = (xs: number[]): Timing | undefined => (xs.length === 0 ? undefined : timingOf(xs))
        const polyakT = timing(times.polyak)
        const jitT = timing(times.jit)
        const eagerT = timing(times.eager)
        const ratio = timing(ratios)
        rows.push({
          job: job.name,
          backend: name,
          ...(polyakT === undefined ? {} : { polyak: polyakT }),
          ...(jitT === undefined ? {} : { jit: jitT }),
          ...(eagerT === undefined ? {} : { eager: eagerT }),
          ...(ratio === undefined
            ? {}
            : {
                ratio: ratio.median,
                ratioRange: [ratio.min, ratio.max] as const,
                best: wins.filter((w) => w === 'jit').length * 2 >= wins.length ? ('jit' as const) : ('eager' as const),
              }),
          notes,
        })
      } finally {
        polyak.dispose()
        for (const p of Object.values(peers)) p.dispose()
      }
    }
  }
  return { rows, jaxVersion, seconds: (Date.now() - t0) / 1000 }
}

const ms = (t: Timing | undefined): string => (t === undefined ? '' : `${t.median.toFixed(1)}`)

/** The rows as a Markdown table. */
export const peerMarkdown = (r: { rows: readonly PeerRow[]; jaxVersion: string; seconds: number }): string =>
  [
    `polyak against jax-js ${r.jaxVersion}, interleaved rounds in one process; times in ms (median over rounds); ratio = polyak ÷ the faster jax-js mode, median over rounds (range). ${r.seconds.toFixed(0)} s.`,
    '',
    '| job | backend | polyak | jax-js jit | jax-js eager | polyak ÷ jax-js | notes |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...r.rows.map(
      (x) =>
        `| ${x.job} | ${x.backend} | ${ms(x.polyak)} | ${ms(x.jit)} | ${ms(x.eager)} | ${x.ratio === undefined ? '' : `${x.ratio.toFixed(2)} (${x.ratioRange![0].toFixed(2)}–${x.ratioRange![1].toFixed(2)}), vs ${x.best}`} | ${x.notes.join('; ')} |`,
    ),
  ].join('\n')

/** `npm run bench:peer`'s flags, parsed and checked as the CLI's commands are. */
export const peerCommand = defineCommand({
  name: 'bench:peer',
  usage: 'npm run bench:peer -- [--backend wasm|webgpu ...] [--job TEXT ...] [--rounds N] [--repeats N] [--json]',
  summary: "polyak bench's jobs against jax-js in interleaved rounds, on wasm and webgpu",
  flags: {
    backend: { type: 'backends', names: ['wasm', 'webgpu'], value: 'NAME', help: 'only these backends (repeatable; default both)' },
    job: { type: 'strings', value: 'TEXT', help: 'only the jobs whose name contains TEXT, case-insensitive (repeatable)' },
    rounds: { type: 'int', min: 1, max: 100, value: 'N', default: 3, help: 'interleaved rounds per job and backend' },
    repeats: { type: 'int', min: 1, max: 100, value: 'N', default: 3, help: 'timed runs per side in each round (their median)' },
    json: { type: 'boolean', help: 'machine-readable output' },
  },
  run: async (v) => {
    const r = await runPeerBench({
      ...(v.backend === undefined ? {} : { backends: v.backend }),
      ...(v.job === undefined ? {} : { jobs: v.job }),
      rounds: v.rounds,
      repeats: v.repeats,
      onProgress: (line) => process.stderr.write(line + '\n'),
    })
    process.stdout.write((v.json ? JSON.stringify({ ...r, tfjs: tf.version_core, node: process.version }, null, 2) : peerMarkdown(r)) + '\n')
    return 0
  },
})

if (process.argv[1] !== undefined && import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1]).href) {
  const run = async (): Promise<number> => {
    const parsed = parseCommand(peerCommand, process.argv.slice(2))
    if (parsed === 'help') {
      process.stdout.write(commandHelp(peerCommand) + '\n')
      return 0
    }
    return peerCommand.run(parsed.values, parsed.positionals)
  }
  run().then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`bench:peer: ${(e as Error).message}\n`)
      process.exit(exitCodeOf(e))
    },
  )
}
