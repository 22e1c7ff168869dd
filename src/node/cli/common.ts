/**
 * What several commands share: the backend and input-size flags, reading a JSON input with its
 * size limit, refusing the Float64 reference where a command trains, the number of local workers,
 * and one progress line that repeats nothing.
 *
 * @module cli/common
 */
import { readFile, stat } from 'node:fs/promises'
import * as E from 'fp-ts/lib/Either.js'
import { backendNames } from '../../../backends/index.js'
import { DEFAULT_JSON_LIMITS, parseJsonInput } from '../../codecs/jsonInput.js'
import { type BackendFlag, type BackendsFlag, type NumberFlag, UsageError } from './args.js'

/** `--backend NAME`, one of the backends polyak knows. */
export const backendFlag = (help = `backend: ${backendNames.join(', ')}`): BackendFlag => ({ type: 'backend', names: backendNames, value: 'NAME', help })

/** `--backend NAME`, repeatable. */
export const backendsFlag = (help: string): BackendsFlag => ({ type: 'backends', names: backendNames, value: 'NAME', help })

/** `--max-input-mb MB`: the largest JSON input a command reads. */
export const MAX_INPUT_FLAG = {
  type: 'number',
  above: 0,
  max: 1 << 20,
  value: 'MB',
  default: DEFAULT_JSON_LIMITS.maxBytes / 2 ** 20,
  help: 'largest JSON input accepted, in MiB',
} as const satisfies NumberFlag

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

/**
 * The JSON value of `file` (stdin when absent or `-`), at most `maxMb` MiB and within the default
 * depth limit; `what` names the input in errors (`the spec`), `label` names it in parse errors.
 */
export const readJson = async (file: string | undefined, maxMb: number, what: string, label = what): Promise<unknown> => {
  const limits = { ...DEFAULT_JSON_LIMITS, maxBytes: Math.floor(maxMb * 2 ** 20) }
  const json = parseJsonInput(await readInput(file, limits.maxBytes, what), label, limits)
  if (E.isLeft(json)) throw json.left
  return json.right
}

/** `name`, unless it is the Float64 reference: `what` (training, the demo) needs tfjs gradients. */
export const trainingBackend = <B extends string | undefined>(name: B, what: string): B => {
  if (name === 'reference') throw new UsageError(`--backend: ${what} needs tfjs gradients; choose a tfjs backend (wasm, webgpu, cpu, tensorflow)`, '--backend')
  return name
}

/** `--workers`, or one local worker process per core. */
export const workerCount = async (workers: number | undefined): Promise<number> => workers ?? Math.max(1, (await import('node:os')).cpus().length)

/** A progress line on stderr that writes only what changed: over itself on a terminal, one line per change otherwise. `end()` closes it. */
export const progressLine = (prefix: string): { readonly show: (text: string) => void; readonly end: () => void } => {
  const tty = process.stderr.isTTY === true
  let last = ''
  return {
    show: (text) => {
      const line = `${prefix}: ${text}`
      if (line === last) return
      last = line
      process.stderr.write(tty ? `\r${line}`.padEnd(100) : `${line}\n`)
    },
    end: () => {
      if (tty) process.stderr.write('\n')
    },
  }
}

/** Redis that cannot be reached is an input problem (the URL), reported with exit 2. */
export const redisError = (e: unknown): never => {
  if ((e as { code?: string }).code === 'REDIS_UNREACHABLE') throw new UsageError(`--redis: ${(e as Error).message}`, '--redis')
  throw e
}
