/**
 * What the registry knows of a normalizer: its name, its config (io-ts codecs and a decoder), how to
 * build it on an interpreter, and what it can be relied on for. Every built-in normalizer module
 * exports one definition; `norm/registry` lists them, and `polyak apply`, `convNet`, the train
 * configs and the law catalogue all derive from that list.
 *
 * The constructor pattern of the library, in these terms: `make(ops, config) =
 * map(build(ops, ·))(decode(config))`, an `Either<ConfigError, …>`, and `unsafe(make(ops, config))`;
 * by name, `activationNormalizer` / `weightNormalizer` in `norm/registry`.
 *
 * @module norm/definition
 */
import type * as E from 'fp-ts/lib/Either.js'
import type { ConfigError, Fields } from '../codecs/config.js'
import type { Ops } from '../core/ops.js'
import type { Leaf } from '../core/tree.js'
import type { Normalizer } from './normalizer.js'
import type { WeightNormalizer } from './weightStandardization.js'

/** What an activation normalizer promises; the law catalogue checks each claim of every registered one. */
export interface NormalizerCapabilities {
  /** In `'train'` mode a sample's output depends on the other samples of the batch (BatchNorm: yes; GroupNorm, EMAN: no). */
  readonly batchDependent: boolean
  /** `init` gives running statistics (non-empty `stats`). */
  readonly hasStats: boolean
}

/** What a model knows when it builds a normalizer for one layer: fills config fields the user left out. */
export interface ModelContext {
  /** Channels of the layer. */
  readonly channels: number
  /** The run's planned number of steps (Momentum BN's α horizon), when the pipeline knows it. */
  readonly totalSteps?: number
}

interface DefinitionBase<S> {
  /** The name in configs and in `polyak apply` (an identifier). */
  readonly name: string
  /** One line for listings. */
  readonly summary: string
  /** The config's io-ts codecs (the law catalogue draws configs from them). */
  readonly fields: Fields
  /** Validates a user config (every field optional where a default exists), naming each bad field. */
  readonly decode: (config: unknown) => E.Either<ConfigError, S>
  /**
   * Config fields a model fills from the layer when the user did not give them (e.g. GroupNorm's
   * group count, Momentum BN's horizon). The user's fields win.
   */
  readonly modelDefaults?: (context: ModelContext, config: Readonly<Record<string, unknown>>) => Record<string, unknown>
}

/** An activation normalizer (`Normalizer`): normalises `x` channels last. */
export interface NormalizerDefinition<S = never> extends DefinitionBase<S> {
  readonly kind: 'activation'
  readonly capabilities: NormalizerCapabilities
  readonly build: <T extends Leaf>(ops: Ops<T>, settings: S) => Normalizer<T, any, any>
}

/** A weight normalizer (`WeightNormalizer`): reparameterises a convolution or dense weight; always batch-independent. */
export interface WeightNormalizerDefinition<S = never> extends DefinitionBase<S> {
  readonly kind: 'weight'
  readonly build: <T extends Leaf>(ops: Ops<T>, settings: S) => WeightNormalizer<T, any>
}

/** Any definition the registry holds (the settings type differs per definition). */
export type AnyDefinition = NormalizerDefinition<any> | WeightNormalizerDefinition<any>
