/**
 * Group normalisation (Wu & He, ECCV 2018) and its special cases LayerNorm and InstanceNorm.
 *
 * @module norm/groupNorm
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { type ConfigError, type ConfigIssue, Epsilon, PositiveInt, decodeConfig, unsafe } from '../codecs/config.js'
import { InvalidArgumentError } from '../core/errors.js'
import type { Ops } from '../core/ops.js'
import type { Leaf } from '../core/tree.js'
import { type EmptySlot, transition } from '../core/transition.js'
import type { NormalizerDefinition } from './definition.js'
import { type AffineParams, type Normalizer, channelAxes, checkChannels } from './normalizer.js'

/** GroupNorm has no statistics (`EmptySlot`). */
export type NoStats = EmptySlot

/** Configuration of `groupNorm`: exactly one of `groups` and `groupSize`. */
export interface GroupNormConfig {
  /** Number of channel groups `G` (must divide the channel count). */
  readonly groups?: number
  /** Channels per group (must divide the channel count); `groups = C / groupSize`. */
  readonly groupSize?: number
  /** Added to the variance before the square root, default `1e-5` (PyTorch, Flax). */
  readonly epsilon?: number
}

/** The config codecs (the law catalogue draws configs from them). */
export const groupNormFields = { groups: t.union([PositiveInt, t.undefined]), groupSize: t.union([PositiveInt, t.undefined]), epsilon: Epsilon }
const fields = groupNormFields

const checkSpec = (c: { groups: number | undefined; groupSize: number | undefined }): ConfigIssue[] =>
  (c.groups === undefined) === (c.groupSize === undefined)
    ? [
        {
          field: c.groups === undefined ? 'groups' : 'groupSize',
          value: c.groups === undefined ? undefined : c.groupSize,
          message:
            'give exactly one of groups (number of groups) and groupSize (channels per group); ' + 'layerNorm is groups: 1, instanceNorm is groupSize: 1',
        },
      ]
    : []

/**
 * GroupNorm, channels last: for each sample and each group of `C/G` channels, over the group's
 * channels and every spatial position,
 *
 *     y = γ_c·(x − μ_{n,g})/√(σ²_{n,g} + ε) + β_c        (σ² biased)
 *
 * No statistics and no batch dependence: the output for a sample never depends on other samples,
 * and `mode` changes nothing. `groups: 1` is LayerNorm over all of a sample's features (the GN
 * paper's definition; Flax's `LayerNorm` normalises the last axis only) and `groupSize: 1` is
 * InstanceNorm. The group count is checked against the channel count in `init`.
 *
 * | default | polyak | PyTorch `GroupNorm` | Flax `GroupNorm` |
 * | --- | --- | --- | --- |
 * | groups | required (or groupSize) | required | 32 |
 * | ε | 1e-5 | 1e-5 | 1e-6 |
 *
 * @example
 * const gn = unsafeGroupNorm(ops, { groups: 8 })
 * const [y] = gn.apply(x, 'train')(gn.init(64))
 */
export const groupNorm = <T extends Leaf>(ops: Ops<T>, config: GroupNormConfig): E.Either<ConfigError, Normalizer<T, AffineParams<T>, NoStats>> =>
  E.map((c: GroupNormSettings) => makeGroupNorm(ops, c))(decodeGroupNorm('groupNorm', config))

/** A decoded group spec: the group count or the group size, ε, and the name the normalizer reports. */
export interface GroupNormSettings {
  readonly spec: { readonly groups: number } | { readonly groupSize: number }
  readonly epsilon: number
  readonly name: string
}

const decodeGroupNorm = (name: string, config: unknown): E.Either<ConfigError, GroupNormSettings> =>
  E.map((c: { groups: number | undefined; groupSize: number | undefined; epsilon: number }) => ({
    spec: c.groups === undefined ? { groupSize: c.groupSize! } : { groups: c.groups },
    epsilon: c.epsilon,
    name,
  }))(decodeConfig(`${name} config`, fields, { groups: undefined, groupSize: undefined, epsilon: 1e-5 as Epsilon }, config, checkSpec))

const epsilonOnly = { epsilon: Epsilon }

/** Decodes the config of a fixed-group special case (only ε may be given). */
const decodeSpecialCase = (name: string, spec: { groups: number } | { groupSize: number }, config: unknown): E.Either<ConfigError, GroupNormSettings> =>
  E.map((c: { epsilon: number }) => ({ spec, epsilon: c.epsilon, name }))(decodeConfig(`${name} config`, epsilonOnly, { epsilon: 1e-5 as Epsilon }, config))

/** The largest of 8, 4, 2, 1 that divides `channels`: the group count a model uses when the config names none. */
export const defaultGroups = (channels: number): number => [8, 4, 2, 1].find((g) => channels % g === 0)!

/** `groupNorm` in the registry's terms; a model without `groups`/`groupSize` uses `defaultGroups(channels)`. */
export const groupNormDefinition: NormalizerDefinition<GroupNormSettings> = {
  kind: 'activation',
  name: 'groupNorm',
  summary: 'GroupNorm: per sample, over each group of channels and all positions; no statistics',
  capabilities: { batchDependent: false, hasStats: false },
  fields: groupNormFields,
  decode: (config) => decodeGroupNorm('groupNorm', config),
  build: (ops, settings) => makeGroupNorm(ops, settings),
  modelDefaults: ({ channels }, config) => (config.groups === undefined && config.groupSize === undefined ? { groups: defaultGroups(channels) } : {}),
}

/** `layerNorm` in the registry's terms (GroupNorm with one group). */
export const layerNormDefinition: NormalizerDefinition<GroupNormSettings> = {
  kind: 'activation',
  name: 'layerNorm',
  summary: 'LayerNorm as GroupNorm with one group (each sample over all its features)',
  capabilities: { batchDependent: false, hasStats: false },
  fields: epsilonOnly,
  decode: (config) => decodeSpecialCase('layerNorm', { groups: 1 }, config),
  build: (ops, settings) => makeGroupNorm(ops, settings),
}

/** `instanceNorm` in the registry's terms (GroupNorm with one channel per group). */
export const instanceNormDefinition: NormalizerDefinition<GroupNormSettings> = {
  kind: 'activation',
  name: 'instanceNorm',
  summary: 'InstanceNorm as GroupNorm with one channel per group (each sample and channel over space)',
  capabilities: { batchDependent: false, hasStats: false },
  fields: epsilonOnly,
  decode: (config) => decodeSpecialCase('instanceNorm', { groupSize: 1 }, config),
  build: (ops, settings) => makeGroupNorm(ops, settings),
}

/** `groupNorm` that throws the `ConfigError` instead of returning it. */
export const unsafeGroupNorm = <T extends Leaf>(ops: Ops<T>, config: GroupNormConfig) => unsafe(groupNorm(ops, config))

/** LayerNorm as GroupNorm with one group: each sample normalised over all of its features. */
export const layerNorm = <T extends Leaf>(
  ops: Ops<T>,
  config: { readonly epsilon?: number } = {},
): E.Either<ConfigError, Normalizer<T, AffineParams<T>, NoStats>> => E.map((s: GroupNormSettings) => makeGroupNorm(ops, s))(layerNormDefinition.decode(config))

/** `layerNorm` that throws. */
export const unsafeLayerNorm = <T extends Leaf>(ops: Ops<T>, config: { readonly epsilon?: number } = {}) => unsafe(layerNorm(ops, config))

/** InstanceNorm as GroupNorm with one channel per group: each sample's channel normalised over space. */
export const instanceNorm = <T extends Leaf>(
  ops: Ops<T>,
  config: { readonly epsilon?: number } = {},
): E.Either<ConfigError, Normalizer<T, AffineParams<T>, NoStats>> =>
  E.map((s: GroupNormSettings) => makeGroupNorm(ops, s))(instanceNormDefinition.decode(config))

/** `instanceNorm` that throws. */
export const unsafeInstanceNorm = <T extends Leaf>(ops: Ops<T>, config: { readonly epsilon?: number } = {}) => unsafe(instanceNorm(ops, config))

const makeGroupNorm = <T extends Leaf>(ops: Ops<T>, { spec, epsilon, name }: GroupNormSettings): Normalizer<T, AffineParams<T>, NoStats> => {
  const groupsFor = (channels: number): number => {
    const g = 'groups' in spec ? spec.groups : channels / spec.groupSize
    const size = 'groups' in spec ? channels / spec.groups : spec.groupSize
    if (!Number.isInteger(g) || !Number.isInteger(size)) {
      throw new InvalidArgumentError(
        `${name}: ${'groups' in spec ? 'groups' : 'groupSize'}`,
        `${'groups' in spec ? `${spec.groups} groups` : `groups of ${spec.groupSize}`} do not divide ${channels} channels`,
      )
    }
    return g
  }
  return {
    name,
    init: (channels) => {
      checkChannels(name, channels)
      groupsFor(channels)
      return ops.tidy(() => ({ params: { gamma: ops.ones([channels]), beta: ops.zeros([channels]) }, stats: {} as NoStats }))
    },
    apply: (x) =>
      transition(ops, ({ params, stats }) => {
        const channels = params.gamma.shape[0]!
        channelAxes(name, x, channels)
        const g = groupsFor(channels)
        const n = x.shape[0]!
        const k = channels / g
        // [N, ...spatial, C] -> [N, S, G, C/G]; moments over S and C/G for each (n, g)
        const m = ops.moments(ops.reshape(x, [n, -1, g, k]), [1, 3], { keepDims: true })
        // y = (x − μ_ng)·γ_c/√(σ²_ng + ε) + β_c as one pass over x viewed [N, S, C], coefficients [N, 1, C]
        const scale = ops.mul(ops.reshape(params.gamma, [g, k]), ops.rsqrt(ops.shift(m.variance, epsilon)))
        const center = ops.reshape(ops.broadcastTo(m.mean, [n, 1, g, k]), [n, 1, channels])
        const y = ops.normalize(ops.reshape(x, [n, -1, channels]), center, ops.reshape(scale, [n, 1, channels]), ops.reshape(params.beta, [1, 1, channels]))
        return [ops.reshape(y, x.shape), { params, stats }]
      }),
  }
}
