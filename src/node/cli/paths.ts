/**
 * Paths checked before any work: an input that is not a readable regular file, or an output that
 * can only fail at its first save, fails at once (exit 2) with a message that names the argument,
 * the path and the problem.
 *
 * @module cli/paths
 */
import { type Stats, accessSync, constants, mkdirSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { UsageError } from './args.js'

const exists = (p: string): boolean => {
  try {
    statSync(p)
    return true
  } catch {
    return false
  }
}

const canonical = (p: string): string => {
  try {
    return realpathSync(p)
  } catch {
    return resolve(p)
  }
}

/** What a non-regular file is, for messages. */
const kindOf = (st: Stats): string =>
  st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : 'not a file'

/**
 * Checks an input path before it is read: it exists, is a regular file (not a directory, a FIFO, a
 * socket or a device: stdin is `-`) and can be opened for reading. `what` names the argument
 * (`the config`, `--subject`).
 */
export const checkInputFile = (file: string, what: string): void => {
  const name = what.startsWith('--') ? `${what}: '${file}'` : `${what} '${file}'`
  let st: Stats
  try {
    st = statSync(file)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new UsageError(`cannot read ${name}: ENOENT, it does not exist`, what)
    if (code === 'ENOTDIR') throw new UsageError(`cannot read ${name}: ENOTDIR, a part of the path is not a directory`, what)
    throw new UsageError(`cannot read ${name} (${code ?? (e as Error).message})`, what)
  }
  if (st.isDirectory()) throw new UsageError(`${name} is a directory; give a file`, what)
  if (!st.isFile())
    throw new UsageError(`${name} is not a regular file (${kindOf(st)}); give a file${what.startsWith('--') ? '' : ", or '-' to read stdin"}`, what)
  try {
    accessSync(file, constants.R_OK)
  } catch (e) {
    throw new UsageError(`cannot read ${name} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, what)
  }
}

/** Writes and removes a probe file in `dir`; a `UsageError` saying why `dir` is not writable. */
const assertWritableDir = (dir: string, flag: string): void => {
  let st
  try {
    st = statSync(dir)
  } catch {
    throw new UsageError(`${flag}: the directory '${dir}' does not exist; create it first`, flag)
  }
  if (!st.isDirectory()) throw new UsageError(`${flag}: '${dir}' is not a directory`, flag)
  const probe = join(dir, `.polyak-write-probe-${process.pid}`)
  try {
    writeFileSync(probe, '')
    rmSync(probe, { force: true })
  } catch (e) {
    throw new UsageError(`${flag}: cannot write in '${dir}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, flag)
  }
}

/**
 * Checks a checkpoint path before training: its directory exists and is writable, it is not a
 * directory, and it is none of `inputs` (the config file, say).
 */
export const checkCheckpointPath = (file: string, inputs: readonly string[]): void => {
  if (exists(file) && statSync(file).isDirectory()) throw new UsageError(`--checkpoint: '${file}' is a directory; name a file`, '--checkpoint')
  if (exists(file) && !statSync(file).isFile())
    throw new UsageError(`--checkpoint: '${file}' is not a regular file (${kindOf(statSync(file))})`, '--checkpoint')
  for (const input of inputs) {
    if (canonical(file) === canonical(input))
      throw new UsageError(`--checkpoint: '${file}' is the input file '${input}'; it would be overwritten`, '--checkpoint')
  }
  assertWritableDir(dirname(file), '--checkpoint')
}

/** Checks a report folder before the work: not an existing file; created if missing; writable. */
export const checkOutputDir = (dir: string, flag = '--out'): void => {
  if (exists(dir) && !statSync(dir).isDirectory()) throw new UsageError(`${flag}: '${dir}' exists and is not a directory`, flag)
  try {
    mkdirSync(dir, { recursive: true })
  } catch (e) {
    throw new UsageError(`${flag}: cannot create '${dir}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, flag)
  }
  assertWritableDir(dir, flag)
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Removes the temp files that killed runs left beside `file` (`FILE.tmp-PID-TIME` whose process is
 * gone); returns their names.
 */
export const removeStaleTemps = (file: string): string[] => {
  const dir = dirname(resolve(file))
  const prefix = `${basename(file)}.tmp-`
  const removed: string[] = []
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return removed
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue
    const pid = Number(name.slice(prefix.length).split('-')[0])
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !alive(pid)) {
      rmSync(join(dir, name), { force: true })
      removed.push(name)
    }
  }
  return removed
}
