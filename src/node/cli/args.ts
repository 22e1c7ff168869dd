/**
 * Command-line arguments: each command declares its flags with their types and bounds, and one
 * parser turns `argv` into typed values (numbers parsed and bounded once, choices checked, backends
 * looked up), with `--help` on each command, negative numbers as values, and typed errors. Errors map
 * to exit codes: 2 for a usage or input error, 1 for a failure at run time.
 *
 * `node:util`'s `parseArgs` does the tokenising: it is strict, needs no dependency, and what it
 * lacks (typed values, bounds, help, exit codes) is the small layer below.
 *
 * @module cli/args
 */
import { parseArgs } from 'node:util'
import { PolyakError } from '../../core/errors.js'

/** A usage error: a bad flag, a missing argument, a value out of range. Exits 2. */
export class UsageError extends PolyakError {
  override readonly name = 'UsageError'
  constructor(message: string, where = '') {
    super('INVALID_ARGUMENT', message, where)
  }
}

interface FlagBase {
  readonly help: string
  /** `VALUE` placeholder shown in help. */
  readonly value?: string
}

/** `--flag`: true when given. */
export interface BooleanFlag extends FlagBase {
  readonly type: 'boolean'
}
/** `--flag TEXT`. */
export interface StringFlag extends FlagBase {
  readonly type: 'string'
  readonly default?: string
}
/** `--flag TEXT`, repeatable: every value, in order. */
export interface StringsFlag extends FlagBase {
  readonly type: 'strings'
}
/** `--flag N`: an integer in `[min, max]`. */
export interface IntFlag extends FlagBase {
  readonly type: 'int'
  readonly min: number
  readonly max?: number
  readonly default?: number
}
/** `--flag X`: a number in `(above, max]`. */
export interface NumberFlag extends FlagBase {
  readonly type: 'number'
  readonly above: number
  readonly max: number
  readonly default?: number
}
/** `--flag C`: one of `choices`. */
export interface ChoiceFlag<C extends string = string> extends FlagBase {
  readonly type: 'choice'
  readonly choices: readonly C[]
  readonly default?: C
}

/** `--backend NAME`: one of the backends `names` (repeatable with `multiple`). */
export interface BackendFlag extends FlagBase {
  readonly type: 'backend'
  readonly names: readonly string[]
  readonly default?: string
}
/** `--backend NAME`, repeatable: every value, each one of `names`. */
export interface BackendsFlag extends FlagBase {
  readonly type: 'backends'
  readonly names: readonly string[]
}

/** One flag of a command. */
export type Flag = BooleanFlag | StringFlag | StringsFlag | IntFlag | NumberFlag | ChoiceFlag | BackendFlag | BackendsFlag

/** The parsed value of a flag: a flag with a default always has a value. */
export type FlagValue<F> = F extends BooleanFlag
  ? boolean
  : F extends StringsFlag | BackendsFlag
    ? readonly string[] | undefined
    : F extends IntFlag | NumberFlag
      ? F extends { readonly default: number }
        ? number
        : number | undefined
      : F extends ChoiceFlag<infer C>
        ? F extends { readonly default: string }
          ? C
          : C | undefined
        : F extends StringFlag | BackendFlag
          ? F extends { readonly default: string }
            ? string
            : string | undefined
          : never

/** The parsed values of a command's flags, by flag name. */
export type FlagValues<Fs> = { readonly [K in keyof Fs]: FlagValue<Fs[K]> }

/** A command: its usage line, what it does, its flags and positionals, and what it runs with the parsed values. */
export interface Command<Fs extends Readonly<Record<string, Flag>> = Readonly<Record<string, Flag>>> {
  readonly name: string
  readonly usage: string
  readonly summary: string
  readonly flags: Fs
  readonly positionals?: { readonly min: number; readonly max: number; readonly name: string }
  /** More help, computed when asked for (what is registered now, for instance). */
  readonly details?: () => string
  /** Runs the command; resolves to the exit code. */
  readonly run: (flags: FlagValues<Fs>, positionals: readonly string[]) => Promise<number>
}

/** Declares a command, keeping its flags' literal types so that `run` sees typed values. */
export const defineCommand = <const Fs extends Readonly<Record<string, Flag>>>(command: Command<Fs>): Command<Fs> => command

/** A command with its flag types forgotten: what the dispatcher holds. */
export interface AnyCommand {
  readonly name: string
  readonly usage: string
  readonly summary: string
  readonly flags: Readonly<Record<string, Flag>>
  readonly positionals?: { readonly min: number; readonly max: number; readonly name: string }
  readonly details?: () => string
  readonly run: (flags: never, positionals: readonly string[]) => Promise<number>
}

const takesValue = (f: Flag): boolean => f.type !== 'boolean'

/** The help text of a command. */
export const commandHelp = (spec: AnyCommand): string => {
  const rows = Object.entries(spec.flags).map(([flag, f]) => {
    const placeholder = f.type === 'choice' ? (f.value ?? f.choices.join('|')) : (f.value ?? 'VALUE')
    const left = `--${flag}${takesValue(f) ? ` ${placeholder}` : ''}`
    const def = f.type === 'boolean' || f.type === 'strings' || f.type === 'backends' || f.default === undefined ? '' : ` (default ${String(f.default)})`
    return `  ${left.padEnd(26)} ${f.help}${def}`
  })
  const details = spec.details === undefined ? '' : `\n${spec.details()}\n`
  return `polyak ${spec.name}: ${spec.summary}\n\nUsage:\n  ${spec.usage}\n\nOptions:\n${[...rows, `  ${'--help'.padEnd(26)} this text`].join('\n')}\n${details}`
}

const NEGATIVE_NUMBER = /^-(\d|\.\d)/

const show = (value: string): string => JSON.stringify(value.slice(0, 40))

/** `name` when it is one of the backends `names`, else a `UsageError` listing them, at `where` (a flag or a config field). */
export const checkBackendName = (name: string, names: readonly string[], where = '--backend'): string => {
  if (!names.includes(name)) throw new UsageError(`${where}: unknown backend '${name.slice(0, 40)}'; known: ${names.join(', ')}`, where)
  return name
}

/** An integer in `[min, max]`, or a `UsageError` naming `what` (a flag or a part of one). */
export const parseInteger = (what: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
  const n = Number(value)
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${what} must be an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? '∞' : max}], got ${show(value)}`, `--${what}`)
  }
  return n
}

const parseValue = (name: string, f: Flag, raw: string): number | string => {
  switch (f.type) {
    case 'int':
      return parseInteger(name, raw, f.min, f.max)
    case 'number': {
      const n = Number(raw)
      if (raw.trim() === '' || !(n > f.above && n <= f.max))
        throw new UsageError(`--${name} must be a number in (${f.above}, ${f.max}], got ${show(raw)}`, `--${name}`)
      return n
    }
    case 'choice':
      if (!f.choices.includes(raw)) throw new UsageError(`--${name} must be one of ${f.choices.join(', ')}, got ${show(raw)}`, `--${name}`)
      return raw
    case 'backend':
      return checkBackendName(raw, f.names, `--${name}`)
    default:
      return raw
  }
}

/** Parsed flags and positionals, or `'help'` when `--help`/`-h` was given. */
export type Parsed<Fs> = { readonly values: FlagValues<Fs>; readonly positionals: string[] } | 'help'

/**
 * Parses `argv` for `command`: strict flags, `--flag -1` read as a value (not as an unknown flag),
 * every value parsed and bounded by its flag's type, defaults filled, and the number of positionals
 * checked. Errors are `UsageError`s that name the flag.
 */
export const parseCommand = <Fs extends Readonly<Record<string, Flag>>>(command: Command<Fs> | AnyCommand, argv: readonly string[]): Parsed<Fs> => {
  if (argv.includes('--help') || argv.includes('-h')) return 'help'
  const flags: Readonly<Record<string, Flag>> = command.flags
  const args: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const flag = a.startsWith('--') ? flags[a.slice(2)] : undefined
    const next = argv[i + 1]
    if (flag !== undefined && takesValue(flag) && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      args.push(`${a}=${next}`)
      i++
    } else args.push(a)
  }
  const options = Object.fromEntries(
    Object.entries(flags).map(([k, f]) => [
      k,
      f.type === 'boolean' ? { type: 'boolean' as const } : { type: 'string' as const, multiple: f.type === 'strings' || f.type === 'backends' },
    ]),
  )
  let parsed: ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: boolean; strict: true }>>
  try {
    parsed = parseArgs({ args, options, allowPositionals: command.positionals !== undefined, strict: true })
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split('\n')[0]}; see polyak ${command.name} --help`)
  }
  const p = command.positionals
  if (p !== undefined && (parsed.positionals.length < p.min || parsed.positionals.length > p.max)) {
    throw new UsageError(
      `expected ${p.min === p.max ? p.min : `${p.min} to ${p.max}`} ${p.name} argument${p.max === 1 ? '' : 's'}, got ${parsed.positionals.length === 0 ? 'none' : parsed.positionals.join(' ')}; usage: ${command.usage}`,
    )
  }
  const raw = parsed.values as Record<string, string | boolean | string[] | undefined>
  const values: Record<string, unknown> = {}
  for (const [name, f] of Object.entries(flags)) {
    const v = raw[name]
    if (f.type === 'boolean') values[name] = v === true
    else if (f.type === 'strings') values[name] = v
    else if (f.type === 'backends') values[name] = (v as string[] | undefined)?.map((b) => checkBackendName(b, f.names, `--${name}`))
    else if (v === undefined) values[name] = f.default
    else values[name] = parseValue(name, f, v as string)
  }
  // the loop above gives each flag the type its spec names: FlagValues<Fs> is that mapping
  return { values: values as FlagValues<Fs>, positionals: parsed.positionals }
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
