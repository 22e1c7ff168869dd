/**
 * The normalizer registry: the one list of normalizers by name. `polyak apply`, `convNet` (and so
 * every train config), the train-file codec and the law catalogue read it; adding a normalizer is
 * one module exporting a definition (`norm/definition`) and one line in `BUILT_IN` — or, from user
 * code, one `registerNormalizer(definition)` call.
 *
 * A layer names its normalizer by a *spec*: a name, or `{ name, config }`:
 *
 *     "groupNorm"                                   the normalizer with its defaults (and the model's, see ModelContext)
 *     { "name": "groupNorm", "config": { "groups": 4 } }
 *
 * @module norm/registry
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { ConfigError, type ConfigIssue } from '../codecs/config.js'
import { InvalidArgumentError } from '../core/errors.js'
import type { Ops } from '../core/ops.js'
import type { Leaf } from '../core/tree.js'
import { batchNormDefinition } from './batchNorm.js'
import type { AnyDefinition, ModelContext, NormalizerDefinition, WeightNormalizerDefinition } from './definition.js'
import { emanDefinition } from './eman.js'
import { groupNormDefinition, instanceNormDefinition, layerNormDefinition } from './groupNorm.js'
import { momentumBatchNormDefinition } from './momentumBatchNorm.js'
import type { Normalizer } from './normalizer.js'
import { weightAlignDefinition } from './weightAlign.js'
import { type WeightNormalizer, weightStandardizationDefinition } from './weightStandardization.js'

/** The built-in definitions, in listing order. */
const BUILT_IN: readonly AnyDefinition[] = [
  batchNormDefinition,
  emanDefinition,
  momentumBatchNormDefinition,
  groupNormDefinition,
  layerNormDefinition,
  instanceNormDefinition,
  weightAlignDefinition,
  weightStandardizationDefinition,
]

const registry = new Map<string, AnyDefinition>(BUILT_IN.map((d) => [d.name, d]))

/** Names no normalizer may take: the spec word for "no normalizer", and the other `polyak apply` ops. */
const RESERVED = new Set(['none', 'ema', 'teacherUpdate'])

/**
 * Registers a normalizer definition under its name, for every consumer of the registry (models,
 * train configs, `apply`, the law catalogue). A name already taken is refused unless `replace`.
 *
 * @example
 * registerNormalizer({ kind: 'activation', name: 'rmsNorm', summary: '…', capabilities: { batchDependent: false, hasStats: false },
 *                      fields, decode, build })
 */
export const registerNormalizer = (definition: AnyDefinition, options: { readonly replace?: boolean } = {}): void => {
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(definition.name)) {
    throw new InvalidArgumentError('registerNormalizer: name', `must be an identifier (letters, digits, _), got '${definition.name}'`)
  }
  if (RESERVED.has(definition.name)) throw new InvalidArgumentError('registerNormalizer: name', `'${definition.name}' is reserved`)
  if (definition.kind !== 'activation' && definition.kind !== 'weight') {
    throw new InvalidArgumentError('registerNormalizer: kind', `expected 'activation' or 'weight', got '${String((definition as { kind: unknown }).kind)}'`)
  }
  if (registry.has(definition.name) && options.replace !== true) {
    throw new InvalidArgumentError('registerNormalizer: name', `'${definition.name}' is registered already; pass { replace: true } to replace it`)
  }
  registry.set(definition.name, definition)
}

/** Removes a registered normalizer (built-ins included); returns whether it was there. */
export const unregisterNormalizer = (name: string): boolean => registry.delete(name)

/** Every registered definition, built-ins first, optionally of one kind. */
export function normalizerDefinitions(kind: 'activation'): NormalizerDefinition<unknown>[]
export function normalizerDefinitions(kind: 'weight'): WeightNormalizerDefinition<unknown>[]
export function normalizerDefinitions(kind?: AnyDefinition['kind']): AnyDefinition[]
export function normalizerDefinitions(kind?: AnyDefinition['kind']): AnyDefinition[] {
  return [...registry.values()].filter((d) => kind === undefined || d.kind === kind)
}

/** The definition registered under `name`, if any. */
export const normalizerDefinition = (name: string): AnyDefinition | undefined => registry.get(name)

/** How a layer names its normalizer: a registered name, or a name with a config. */
export type NormSpec = string | { readonly name: string; readonly config?: Readonly<Record<string, unknown>> }

/** The name of a spec. */
export const specName = (spec: NormSpec): string => (typeof spec === 'string' ? spec : spec.name)

/** The config of a spec (`{}` for a bare name). */
export const specConfig = (spec: NormSpec): Readonly<Record<string, unknown>> => (typeof spec === 'string' ? {} : (spec.config ?? {}))

const lookup = (kind: AnyDefinition['kind'], name: string): E.Either<ConfigError, AnyDefinition> => {
  const d = registry.get(name)
  if (d !== undefined && d.kind === kind) return E.right(d)
  const known = normalizerDefinitions(kind).map((x) => `'${x.name}'`)
  const what = kind === 'activation' ? 'an activation normalizer' : 'a weight normalizer'
  return E.left(
    new ConfigError('normalizer spec', [
      {
        field: 'name',
        value: name,
        message: `${d === undefined ? 'not registered' : `'${name}' is not ${what}`}; expected one of 'none', ${known.join(', ')}`,
      },
    ]),
  )
}

const withModelDefaults = (d: AnyDefinition, spec: NormSpec, context: ModelContext | undefined): Record<string, unknown> => {
  const config = specConfig(spec)
  return context === undefined || d.modelDefaults === undefined ? { ...config } : { ...d.modelDefaults(context, config), ...config }
}

const inSpec = (e: ConfigError, spec: NormSpec): ConfigError =>
  new ConfigError(
    e.subject,
    e.issues.map((i) => ({ ...i, field: typeof spec === 'string' || i.field === 'name' ? i.field : `config.${i.field}` })),
  )

/** The definition a spec names and its decoded settings (`undefined` for `'none'`); config issues named as they sit in the spec. */
const resolve = (
  kind: AnyDefinition['kind'],
  spec: NormSpec,
  complete: (d: AnyDefinition) => Record<string, unknown>,
): E.Either<ConfigError, { readonly definition: AnyDefinition; readonly settings: unknown } | undefined> =>
  specName(spec) === 'none'
    ? E.right(undefined)
    : E.chain((definition: AnyDefinition) =>
        E.bimap(
          (e: ConfigError) => inSpec(e, spec),
          (settings: unknown) => ({ definition, settings }),
        )(definition.decode(complete(definition))),
      )(lookup(kind, specName(spec)))

/**
 * Builds the activation normalizer a spec names, its config completed by the model's context
 * (`modelDefaults`) where given; `Right(undefined)` for `'none'`.
 */
export const activationNormalizer = <T extends Leaf>(
  ops: Ops<T>,
  spec: NormSpec,
  context?: ModelContext,
): E.Either<ConfigError, Normalizer<T, unknown, unknown> | undefined> =>
  E.map((r: { definition: AnyDefinition; settings: unknown } | undefined) =>
    r === undefined ? undefined : ((r.definition as NormalizerDefinition<unknown>).build(ops, r.settings) as Normalizer<T, unknown, unknown>),
  )(resolve('activation', spec, (d) => withModelDefaults(d, spec, context)))

/** Builds the weight normalizer a spec names (config completed by `fixed`, e.g. the model's layout); `Right(undefined)` for `'none'`. */
export const weightNormalizer = <T extends Leaf>(
  ops: Ops<T>,
  spec: NormSpec,
  fixed: Readonly<Record<string, unknown>> = {},
): E.Either<ConfigError, WeightNormalizer<T, { readonly weight: T }> | undefined> =>
  E.map((r: { definition: AnyDefinition; settings: unknown } | undefined) =>
    r === undefined ? undefined : ((r.definition as WeightNormalizerDefinition<unknown>).build(ops, r.settings) as WeightNormalizer<T, { readonly weight: T }>),
  )(resolve('weight', spec, () => ({ ...specConfig(spec), ...fixed })))

/**
 * Validates a spec without building anything: the name is registered (of `kind`) and its config
 * decodes, completed by `context` where given. Issues name fields as they sit in the spec.
 */
export const checkSpec = (kind: AnyDefinition['kind'], spec: NormSpec, context?: ModelContext): ConfigIssue[] => {
  const r = resolve(kind, spec, (d) => withModelDefaults(d, spec, context))
  return E.isLeft(r) ? [...r.left.issues] : []
}

/**
 * The io-ts codec of a spec: a string or `{ name, config? }` whose name is registered as `kind`
 * (read at decode time, so normalizers registered later are accepted). Config fields are checked
 * where the context is known (`checkSpec`).
 */
export const normSpecCodec = (kind: AnyDefinition['kind']): t.Type<NormSpec, NormSpec, unknown> =>
  new t.Type<NormSpec, NormSpec, unknown>(
    kind === 'activation' ? 'NormSpec' : 'WeightNormSpec',
    (u): u is NormSpec => typeof u === 'string' || (typeof u === 'object' && u !== null && typeof (u as { name?: unknown }).name === 'string'),
    (u, c) => {
      const shapeOk =
        typeof u === 'string' ||
        (typeof u === 'object' &&
          u !== null &&
          !Array.isArray(u) &&
          typeof (u as { name?: unknown }).name === 'string' &&
          Object.keys(u).every((k) => k === 'name' || k === 'config') &&
          ((u as { config?: unknown }).config === undefined ||
            (typeof (u as { config?: unknown }).config === 'object' && (u as { config?: unknown }).config !== null)))
      if (!shapeOk)
        return t.failure(
          u,
          c,
          `expected a normalizer name or { "name": …, "config": { … } }; names: 'none', ${normalizerDefinitions(kind)
            .map((d) => `'${d.name}'`)
            .join(', ')}`,
        )
      const name = specName(u as NormSpec)
      const found = name === 'none' ? E.right(undefined) : lookup(kind, name)
      return E.isLeft(found) ? t.failure(u, c, found.left.issues[0]!.message) : t.success(u as NormSpec)
    },
    t.identity,
  )
