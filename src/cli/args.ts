/**
 * Command-line arguments: one parser for every subcommand (`--help` on each, negative numbers as
 * values, typed errors), and the rule that maps errors to exit codes: 2 for a usage or input error,
 * 1 for a failure at run time.
 *
 * @module cli/args
 */
import { parseArgs } from 'node:util'
import { PolyakError } from '../core/errors.js'

/** A usage error: a bad flag, a missing argument, a value out of range. Exits 2. */
export class UsageError extends PolyakError {
  override readonly name = 'UsageError'
  constructor(message: string, where = '') {
    super('INVALID_ARGUMENT', message, where)
  }
}

/** One flag of a subcommand. */
export interface Flag {
  readonly type: 'string' | 'boolean'
  readonly multiple?: boolean
  readonly default?: string | boolean
  /** `VALUE` placeholder shown in help. */
  readonly value?: string
  readonly help: string
}

/** A subcommand: its usage line, what it does, and its flags. */
export interface CommandSpec {
  readonly usage: string
  readonly summary: string
  readonly flags: Readonly<Record<string, Flag>>
  readonly positionals?: { readonly min: number; readonly max: number; readonly name: string }
}

/** The help text of a subcommand. */
export const commandHelp = (name: string, spec: CommandSpec): string => {
  const rows = Object.entries(spec.flags).map(([flag, f]) => {
    const left = `--${flag}${f.type === 'string' ? ` ${f.value ?? 'VALUE'}` : ''}`
    const def = f.default === undefined || f.default === false ? '' : ` (default ${String(f.default)})`
    return `  ${left.padEnd(26)} ${f.help}${def}`
  })
  return `polyak ${name}: ${spec.summary}\n\nUsage:\n  ${spec.usage}\n\nOptions:\n${[...rows, `  ${'--help'.padEnd(26)} this text`].join('\n')}\n`
}

const NEGATIVE_NUMBER = /^-(\d|\.\d)/

/** Parsed flags and positionals, or `'help'` when `--help`/`-h` was given. */
export type Parsed = { readonly values: Record<string, string | boolean | string[] | undefined>; readonly positionals: string[] } | 'help'

/**
 * Parses `argv` for `spec`: strict flags, `--flag -1` read as a value (not as an unknown flag),
 * and the number of positionals checked. Errors are `UsageError`s that name the flag.
 */
export const parseCommand = (name: string, spec: CommandSpec, argv: readonly string[]): Parsed => {
  if (argv.includes('--help') || argv.includes('-h')) return 'help'
  const args: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const flag = a.startsWith('--') ? spec.flags[a.slice(2)] : undefined
    const next = argv[i + 1]
    if (flag?.type === 'string' && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      args.push(`${a}=${next}`)
      i++
    } else args.push(a)
  }
  const options = Object.fromEntries(
    Object.entries(spec.flags).map(([k, f]) => [
      k,
      { type: f.type, ...(f.multiple === true ? { multiple: true } : {}), ...(f.default === undefined ? {} : { default: f.default }) },
    ]),
  ) as Parameters<typeof parseArgs>[0] extends infer P ? (P extends { options?: infer O } ? O : never) : never
  let parsed: { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] }
  try {
    parsed = parseArgs({ args, options, allowPositionals: spec.positionals !== undefined, strict: true }) as typeof parsed
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split('\n')[0]}; see polyak ${name} --help`)
  }
  const p = spec.positionals
  if (p !== undefined && (parsed.positionals.length < p.min || parsed.positionals.length > p.max)) {
    throw new UsageError(
      `expected ${p.min === p.max ? p.min : `${p.min} to ${p.max}`} ${p.name} argument${p.max === 1 ? '' : 's'}, got ${parsed.positionals.length === 0 ? 'none' : parsed.positionals.join(' ')}; usage: ${spec.usage}`,
    )
  }
  return parsed
}

/** An integer flag in `[min, max]`, or a `UsageError` naming the flag. */
export const intFlag = (name: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
  const n = Number(value)
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(
      `--${name} must be an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? '∞' : max}], got ${JSON.stringify(value.slice(0, 40))}`,
      `--${name}`,
    )
  }
  return n
}

/** A number flag in `(min, max]`, or a `UsageError` naming the flag. */
export const numberFlag = (name: string, value: string, lowerExclusive: number, max: number): number => {
  const n = Number(value)
  if (value.trim() === '' || !(n > lowerExclusive && n <= max))
    throw new UsageError(`--${name} must be a number in (${lowerExclusive}, ${max}], got ${JSON.stringify(value.slice(0, 40))}`, `--${name}`)
  return n
}

/** One of `choices`, or a `UsageError` listing them. */
export const choiceFlag = <C extends string>(name: string, value: string, choices: readonly C[]): C => {
  if (!(choices as readonly string[]).includes(value))
    throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got ${JSON.stringify(value.slice(0, 40))}`, `--${name}`)
  return value as C
}

/** Error codes that mean the input was wrong (exit 2); everything else failed at run time (exit 1). */
const INPUT_CODES: ReadonlySet<string> = new Set([
  'INVALID_ARGUMENT',
  'INVALID_CONFIG',
  'TREE_STRUCTURE',
  'SHAPE_MISMATCH',
  'DTYPE_MISMATCH',
  'UNKNOWN_BACKEND',
])

/** The exit code for an error: 2 for usage and input errors, 1 for failures at run time. */
export const exitCodeOf = (e: unknown): 1 | 2 => (e instanceof PolyakError && INPUT_CODES.has(e.code) ? 2 : 1)
