/**
 * The `[G, A, C, B]` view that polyak's per-channel kernels use (see `kernels/channels`).
 *
 * @module kernels/channels/layout
 */

/** Which axes of a tensor index the statistics: the first `lead` axes (groups) and `axis` (channels), `axis ≥ lead`. */
export interface ChannelLayout {
  readonly lead: number
  readonly axis: number
}

export const product = (xs: readonly number[]): number => xs.reduce((p, d) => p * d, 1)

/** `[G, A, C, B]` of `shape` under `layout`. */
export const channelView = (shape: readonly number[], { lead, axis }: ChannelLayout): [number, number, number, number] => [
  product(shape.slice(0, lead)),
  product(shape.slice(lead, axis)),
  shape[axis]!,
  product(shape.slice(axis + 1)),
]

/** The layout whose statistics axes are exactly `kept` (sorted), or `undefined` when they are not a prefix plus one axis. */
export const layoutOf = (kept: readonly number[]): ChannelLayout | undefined => {
  if (kept.length === 0) return undefined
  const lead = kept.length - 1
  return kept.slice(0, lead).every((k, i) => k === i) ? { lead, axis: kept[lead]! } : undefined
}

/** Runs a kernel once per group: `f(g, A, C, B)`. */
export const perGroup = (shape: readonly number[], layout: ChannelLayout, f: (g: number, a: number, c: number, b: number) => void): void => {
  const [groups, a, c, b] = channelView(shape, layout)
  for (let g = 0; g < groups; g++) f(g, a, c, b)
}

/** The `[G·C]` shape of the statistics of `shape` under `layout`. */
export const statsShape = (shape: readonly number[], layout: ChannelLayout): number[] => {
  const [groups, , c] = channelView(shape, layout)
  return [groups * c]
}
