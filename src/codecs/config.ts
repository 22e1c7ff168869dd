/**
 * io-ts codecs for configurations, with the brands every constructor validates against, and the
 * decoder that turns io-ts errors into messages naming the field, the value and the fix.
 *
 * Configs are decoded once, in constructors (`batchNorm(ops, config)` returns
 * `Either<ConfigError, BatchNorm>`); `unsafe*` constructors throw the same `ConfigError`.
 *
 * @module codecs/config
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { PolyakError } from '../core/errors.js'
import { preview } from './jsonInput.js'

// ---------------------------------------------------------------------------------------------
// brands

/** Brand of `Decay`. */
export interface DecayBrand {
  readonly Decay: unique symbol
}
/**
 * An EMA decay `d ∈ [0, 1]`: the weight on the OLD value, `avg ← d·avg + (1 − d)·new`.
 * PyTorch's BatchNorm `momentum` is the weight on the new value: convert with `fromTorchMomentum`.
 */
export const Decay = t.brand(t.number, (n): n is t.Branded<number, DecayBrand> => Number.isFinite(n) && n >= 0 && n <= 1, 'Decay')
/** A validated decay. */
export type Decay = t.TypeOf<typeof Decay>

/** What a decay is, in every message that rejects one (codecs, schedules, teacher updates). */
export const DECAY_EXPECTED =
  'a number in [0, 1], the weight on the old value (avg ← decay·avg + (1 − decay)·new); ' + 'a PyTorch momentum m converts with fromTorchMomentum(m) = 1 − m'

/** A decay or a schedule of it: `number ∈ [0, 1]` or `(k) => number` (the schedule's values are checked when it is read). */
export type DecaySpec = number | ((k: number) => number)

/** The codec of a decay or a schedule (`teacherUpdate`, `ema`): the one place a decay config is validated. */
export const DecaySpec = new t.Type<DecaySpec, DecaySpec, unknown>(
  'DecaySpec',
  (u): u is DecaySpec => typeof u === 'function' || Decay.is(u),
  (u, c) => (typeof u === 'function' || Decay.is(u) ? t.success(u as DecaySpec) : t.failure(u, c)),
  t.identity,
)

/** Brand of `Epsilon`. */
export interface EpsilonBrand {
  readonly Epsilon: unique symbol
}
/** A strictly positive, finite epsilon (the guard added to a variance before its square root). */
export const Epsilon = t.brand(t.number, (n): n is t.Branded<number, EpsilonBrand> => Number.isFinite(n) && n > 0, 'Epsilon')
/** A validated epsilon. */
export type Epsilon = t.TypeOf<typeof Epsilon>

/** Brand of `PositiveInt`. */
export interface PositiveIntBrand {
  readonly PositiveInt: unique symbol
}
/** An integer ≥ 1. */
export const PositiveInt = t.brand(t.number, (n): n is t.Branded<number, PositiveIntBrand> => Number.isInteger(n) && n >= 1, 'PositiveInt')
/** A validated positive integer. */
export type PositiveInt = t.TypeOf<typeof PositiveInt>

/** Brand of `NonNegativeInt`. */
export interface NonNegativeIntBrand {
  readonly NonNegativeInt: unique symbol
}
/** An integer ≥ 0. */
export const NonNegativeInt = t.brand(t.number, (n): n is t.Branded<number, NonNegativeIntBrand> => Number.isInteger(n) && n >= 0, 'NonNegativeInt')
/** A validated non-negative integer. */
export type NonNegativeInt = t.TypeOf<typeof NonNegativeInt>

/** Brand of `PositiveFinite`. */
export interface PositiveFiniteBrand {
  readonly PositiveFinite: unique symbol
}
/** A finite number > 0 (gains, scales). */
export const PositiveFinite = t.brand(t.number, (n): n is t.Branded<number, PositiveFiniteBrand> => Number.isFinite(n) && n > 0, 'PositiveFinite')
/** A validated positive finite number. */
export type PositiveFinite = t.TypeOf<typeof PositiveFinite>

/** Variance estimator codec. */
export const VarianceEstimatorC = t.keyof({ biased: null, unbiased: null }, 'VarianceEstimator')

/** What each codec means, and how to fix a bad value: used in error messages. */
const EXPECTED: Record<string, string> = {
  Decay: DECAY_EXPECTED,
  DecaySpec: `${DECAY_EXPECTED}; or a schedule (k) => decay`,
  Epsilon: 'a finite number > 0 (e.g. 1e-5)',
  PositiveInt: 'an integer ≥ 1',
  NonNegativeInt: 'an integer ≥ 0',
  PositiveFinite: 'a finite number > 0',
  Fraction: 'a number in (0, 1]',
  NonNegative: 'a finite number ≥ 0',
  Widths: 'an array of integers ≥ 1 (channels of each conv stage)',
  NonEmptyArray: 'a non-empty array of values',
  number: 'a number',
  boolean: 'true or false',
  string: 'a string',
}

// ---------------------------------------------------------------------------------------------
// errors

/** One problem found in a config. */
export interface ConfigIssue {
  /** Dotted path of the field, e.g. `decay` or `groups`. */
  readonly field: string
  /** The value found (as JSON); `undefined` when missing; absent when the message says it all. */
  readonly value?: unknown
  /** What was expected and how to fix it. */
  readonly message: string
}

/** A config failed validation: `issues` lists every problem, the message names them all. */
export class ConfigError extends PolyakError {
  override readonly name = 'ConfigError'
  constructor(
    readonly subject: string,
    readonly issues: readonly ConfigIssue[],
  ) {
    super(
      'INVALID_CONFIG',
      `invalid ${subject}: ` + issues.map((i) => `field '${i.field}': ${'value' in i ? `got ${show(i.value)}; ` : ''}${i.message}`).join('; '),
      issues[0]?.field ?? '',
    )
  }
}

const show = (v: unknown): string => preview(v)

const describeExpected = (type: t.Decoder<unknown, unknown>): string => {
  const name = type.name
  if (EXPECTED[name] !== undefined) return `expected ${EXPECTED[name]}`
  if (type instanceof t.KeyofType)
    return `expected one of ${Object.keys(type.keys as object)
      .map((k) => `'${k}'`)
      .join(', ')}`
  if (type instanceof t.LiteralType) return `expected ${show(type.value)}`
  if (type instanceof t.UnionType)
    return `expected one of: ${(type.types as Array<t.Decoder<unknown, unknown>>).map((x) => describeExpected(x).replace(/^expected /, '')).join(' | ')}`
  return `expected ${name}`
}

/** Converts io-ts validation errors into issues (one per failing field, deepest context). */
export const issuesOf = (errors: t.Errors): ConfigIssue[] => {
  const seen = new Set<string>()
  const out: ConfigIssue[] = []
  for (const e of errors) {
    // a union's members appear in the context under their index: not part of the field's path
    const path = e.context
      .slice(1)
      .filter((_, i) => !(e.context[i]!.type instanceof t.UnionType))
      .map((c) => c.key)
      .filter((k) => k !== '')
      .join('.')
    if (seen.has(path)) continue
    seen.add(path)
    const last = e.context[e.context.length - 1]
    const type = last?.type as t.Decoder<unknown, unknown> | undefined
    out.push({ field: path === '' ? '<config>' : path, value: e.value, message: e.message ?? (type ? describeExpected(type) : 'invalid') })
  }
  // a union with an optional member also reports "expected undefined" for the field itself: noise when a deeper issue says more
  const deeper = (f: string): boolean => out.some((o) => o.field !== f && (f === '<config>' || o.field.startsWith(`${f}.`)))
  return out.filter((o) => !(o.message === 'expected undefined' && deeper(o.field)))
}

// ---------------------------------------------------------------------------------------------
// decoding with defaults and unknown-field detection

/** The fields of a config: a codec for each. */
export type Fields = Record<string, t.Mixed>

/** The decoded config: every field present (defaults filled in). */
export type Decoded<F extends Fields> = { readonly [K in keyof F]: t.TypeOf<F[K]> }

/** The config a user passes: every field optional. */
export type Input<F extends Fields> = { readonly [K in keyof F]?: t.OutputOf<F[K]> | t.TypeOf<F[K]> }

/**
 * Decodes a user config: fills `defaults`, rejects unknown fields (naming the closest known one),
 * validates each field, then runs `check` for cross-field rules. Every problem is reported at once.
 */
export const decodeConfig = <F extends Fields>(
  subject: string,
  fields: F,
  defaults: { readonly [K in keyof F]: t.TypeOf<F[K]> },
  input: unknown,
  check?: (c: Decoded<F>) => readonly ConfigIssue[],
): E.Either<ConfigError, Decoded<F>> => {
  if (input !== undefined && (input === null || typeof input !== 'object' || Array.isArray(input))) {
    return E.left(new ConfigError(subject, [{ field: '<config>', value: input, message: 'expected an object of options' }]))
  }
  const given = (input ?? {}) as Record<string, unknown>
  const issues: ConfigIssue[] = []
  for (const key of Object.keys(given)) {
    if (!Object.hasOwn(fields, key)) {
      const near = closest(key, Object.keys(fields))
      issues.push({
        field: key,
        value: given[key],
        message: `unknown field${near === undefined ? '' : `; did you mean '${near}'?`} (known: ${Object.keys(fields).join(', ')})`,
      })
    }
  }
  const merged: Record<string, unknown> = {}
  for (const key of Object.keys(fields)) {
    const raw = given[key] === undefined ? defaults[key] : given[key]
    const r = fields[key]!.decode(raw)
    if (E.isLeft(r)) {
      for (const i of issuesOf(r.left)) issues.push({ ...i, field: i.field === '<config>' ? key : `${key}.${i.field}` })
    } else merged[key] = r.right
  }
  if (issues.length === 0 && check !== undefined) issues.push(...check(merged as Decoded<F>))
  return issues.length > 0 ? E.left(new ConfigError(subject, issues)) : E.right(merged as Decoded<F>)
}

const closest = (key: string, known: readonly string[]): string | undefined => {
  let best: string | undefined
  let bestD = Infinity
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase())
    if (d < bestD) {
      bestD = d
      best = k
    }
  }
  return bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined
}

const editDistance = (a: string, b: string): number => {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!
    dp[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = tmp
    }
  }
  return dp[b.length]!
}

/** Unwraps an `Either`, throwing its error: the `unsafe*` constructors. */
export const unsafe = <E, A>(e: E.Either<E, A>): A => {
  if (E.isLeft(e)) throw e.left
  return e.right
}

/**
 * JSON handed to a constructor that decodes its own config at run time (every `foo(ops, config)`
 * runs `decodeConfig` on it): typed as the config it will be decoded as, and checked there, with
 * every problem named by field.
 */
export const untrustedConfig = <C>(json: Readonly<Record<string, unknown>>): C => json as C

/**
 * The default of a required field in `decodeConfig`'s defaults: absent, so the field's codec
 * rejects it and the error names the field as missing unless the input gives it.
 */
// the one placeholder cast: the value is never used as a T, only handed to the field's codec, which refuses undefined
export const required = <T>(): T => undefined as unknown as T
