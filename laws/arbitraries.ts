/**
 * fast-check arbitraries for the laws: shapes (size-1 axes included), float32 data drawn as
 * sign × magnitude with the magnitude log-uniform over a stated range (so every element matters,
 * unlike bit-pattern sampling, which puts most values near 0), near-degenerate cases on purpose
 * (σ² near ε, constant channels, one huge outlier, a large common offset), decays including 0, 1
 * and values near 1, and valid configs derived from the io-ts codecs the constructors validate with.
 *
 * @module laws/arbitraries
 */
import fc from 'fast-check'
import * as t from 'io-ts'

/** A host-side tensor: shape and row-major float32-representable values. */
export interface HostTensor {
  readonly shape: readonly number[]
  readonly data: readonly number[]
}

/** Number of elements of a shape. */
export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1)

/** Shapes of rank `minRank..maxRank` with dimensions `1..maxDim` (size-1 axes included). */
export const shapeArb = (minRank = 0, maxRank = 4, maxDim = 5): fc.Arbitrary<number[]> =>
  fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: minRank, maxLength: maxRank })

/**
 * A number uniform in value over `[min, max]` (2³⁰ evenly spaced steps, no bias). `fc.double` is
 * uniform over the bit patterns instead, which puts most of its values next to 0.
 */
export const uniformArb = (min: number, max: number): fc.Arbitrary<number> =>
  fc.noBias(fc.integer({ min: 0, max: 2 ** 30 })).map((k) => (k === 2 ** 30 ? max : min + ((max - min) * k) / 2 ** 30))

/** The dynamic range of `valueArb`: magnitudes span this many decades below the range's largest magnitude. */
export const VALUE_DECADES = 3

/**
 * A float32 value `sign × magnitude`, the magnitude log-uniform in `[minMagnitude, maxMagnitude]`
 * (every decade equally likely); `signed: false` gives positive values only.
 */
export const logUniformArb = (minMagnitude: number, maxMagnitude: number, signed = true): fc.Arbitrary<number> => {
  const lo = Math.log10(minMagnitude)
  const hi = Math.log10(maxMagnitude)
  const mag = lo === hi ? fc.constant(lo) : uniformArb(lo, hi)
  return fc.tuple(signed ? fc.noBias(fc.boolean()) : fc.constant(false), mag).map(([neg, e]) => Math.fround((neg ? -1 : 1) * Math.min(maxMagnitude, 10 ** e)))
}

/**
 * float32 values in `[min, max]`, no NaN or infinities: mostly `sign × magnitude` with the magnitude
 * log-uniform over the top `VALUE_DECADES` decades of each side of the range (`[M·10⁻³, M]`, M the
 * side's largest magnitude), and sometimes (1 in 20) an edge: `min`, `max` or 0.
 */
export const valueArb = (min: number, max: number): fc.Arbitrary<number> => {
  const lo = Math.fround(min)
  const hi = Math.fround(max)
  const sides: Array<fc.Arbitrary<number>> = []
  const side = (m: number, positive: boolean) => {
    const top = Math.abs(m)
    const bottom = positive && lo > 0 ? lo : !positive && hi < 0 ? -hi : top * 10 ** -VALUE_DECADES
    return logUniformArb(Math.max(bottom, Number.MIN_VALUE), top, false).map((v) => (positive ? v : -v))
  }
  if (hi > 0) sides.push(side(hi, true))
  if (lo < 0) sides.push(side(lo, false))
  const edges = [lo, hi, ...(lo <= 0 && hi >= 0 ? [0] : [])]
  return fc.oneof({ weight: 19, arbitrary: sides.length === 1 ? sides[0]! : fc.oneof(...sides) }, { weight: 1, arbitrary: fc.constantFrom(...edges) })
}

/** A magnitude `10^e`, `e ∈ [−3, 3]`. */
export const magnitudeArb: fc.Arbitrary<number> = fc.integer({ min: -3, max: 3 }).map((e) => 10 ** e)

/** `n` values `sign × magnitude`, the magnitudes log-uniform within one decade `[0.1, 1]`: every element is of the same order. */
const decadeArb = (n: number): fc.Arbitrary<number[]> => fc.array(logUniformArb(0.1, 1), { minLength: n, maxLength: n })

/**
 * `n` float32 values near a variance of `ε·10^u`, `u ∈ [−1, 1]` (ε = 1e-5): a small offset plus
 * deviations scaled to that variance, the regime where ε's placement decides the result.
 */
export const nearEpsilonDataArb = (n: number, epsilon = 1e-5): fc.Arbitrary<number[]> =>
  fc.tuple(decadeArb(n), uniformArb(-1, 1), valueArb(-0.01, 0.01)).map(([xs, u, offset]) => {
    const mean = xs.reduce((a, b) => a + b, 0) / n
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / n)
    const scale = sd === 0 ? 0 : Math.sqrt(epsilon * 10 ** u) / sd
    return xs.map((x) => Math.fround(offset + (x - mean) * scale))
  })

/**
 * `n` float32 values: well-spread data (every element within a decade of the rest) at a random
 * magnitude 1e-3..1e3, or a near-degenerate case on purpose — a constant, one huge element among
 * small ones, a large common offset (|mean| ≫ std), or a variance near ε.
 */
export const dataArb = (n: number): fc.Arbitrary<number[]> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.tuple(magnitudeArb, decadeArb(n)).map(([m, xs]) => xs.map((x) => Math.fround(x * m))) },
    { weight: 1, arbitrary: nearEpsilonDataArb(n) },
    { weight: 1, arbitrary: valueArb(-100, 100).map((c) => new Array<number>(n).fill(c)) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.array(valueArb(-1, 1), { minLength: n, maxLength: n }), fc.nat({ max: Math.max(0, n - 1) }))
        .map(([xs, i]) => xs.map((x, j) => (j === i ? 1e3 : x))),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.array(valueArb(-1, 1), { minLength: n, maxLength: n }), fc.constantFrom(-1e3, 1e3))
        .map(([xs, off]) => xs.map((x) => Math.fround(off + x))),
    },
  )

/**
 * Well-spread data only (no adversarial cases): `sign × magnitude` with the magnitudes log-uniform
 * within one decade of a scale `10^e`, `e ∈ {−1, 0, 1, 2}`, so every element matters.
 */
export const spreadDataArb = (n: number): fc.Arbitrary<number[]> =>
  fc.tuple(fc.integer({ min: -1, max: 2 }), decadeArb(n)).map(([e, xs]) => xs.map((x) => Math.fround(x * 10 ** e)))

/** A host tensor of `shape`. */
export const tensorArb = (shape: readonly number[], data: (n: number) => fc.Arbitrary<number[]> = dataArb): fc.Arbitrary<HostTensor> =>
  data(sizeOf(shape)).map((d) => ({ shape, data: d }))

/** A channels-last batch `[N, ...spatial, C]`: `N ∈ [minBatch, maxBatch]`, 0–2 spatial axes of 1–3, `C ∈ [1, maxChannels]`. */
export const batchShapeArb = (options: { minBatch?: number; maxBatch?: number; maxChannels?: number; channels?: number } = {}) =>
  fc
    .tuple(
      fc.integer({ min: options.minBatch ?? 1, max: options.maxBatch ?? 6 }),
      fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
      options.channels === undefined ? fc.integer({ min: 1, max: options.maxChannels ?? 4 }) : fc.constant(options.channels),
    )
    .map(([n, spatial, c]) => [n, ...spatial, c])

/**
 * Decays: the edge cases 0 and 1, values near 1 (0.9, 0.99, 0.999, 0.9999), 0.5, and uniform in
 * [0, 1] (docs/methods.md).
 */
export const decayArb: fc.Arbitrary<number> = fc.oneof(fc.constantFrom(0, 1, 0.5, 0.9, 0.99, 0.999, 0.9999), uniformArb(0, 1))

/** Decays strictly between 0 and 1. */
export const openDecayArb: fc.Arbitrary<number> = fc.oneof(fc.constantFrom(0.5, 0.9, 0.99, 0.999), uniformArb(0.01, 0.99))

const BRANDS: Record<string, fc.Arbitrary<unknown>> = {
  Decay: decayArb,
  Epsilon: fc.constantFrom(1e-8, 1e-6, 1e-5, 1e-3, 0.1),
  PositiveInt: fc.integer({ min: 1, max: 64 }),
  NonNegativeInt: fc.integer({ min: 0, max: 64 }),
  PositiveFinite: uniformArb(0.01, 10),
  boolean: fc.boolean(),
}

/**
 * An arbitrary of the values a codec accepts, derived from the codec: polyak's brands map to
 * arbitraries of valid values, `keyof` codecs to their keys, unions to one of their members.
 * Valid by construction, never filtered.
 */
export const arbitraryOf = (codec: t.Mixed): fc.Arbitrary<unknown> => {
  const brand = BRANDS[codec.name]
  if (brand !== undefined) return brand
  if (codec instanceof t.KeyofType) return fc.constantFrom(...Object.keys(codec.keys as object))
  if (codec instanceof t.UnionType) return fc.oneof(...(codec.types as t.Mixed[]).map(arbitraryOf))
  if (codec instanceof t.UndefinedType) return fc.constant(undefined)
  throw new Error(`no arbitrary for codec '${codec.name}'`)
}

/** An arbitrary of complete, valid configs for a record of field codecs (as the constructors use). */
export const configArb = <F extends Record<string, t.Mixed>>(fields: F): fc.Arbitrary<{ [K in keyof F]: t.TypeOf<F[K]> }> =>
  fc.record(Object.fromEntries(Object.entries(fields).map(([k, c]) => [k, arbitraryOf(c)])) as never) as fc.Arbitrary<{ [K in keyof F]: t.TypeOf<F[K]> }>

/**
 * Two broadcast-compatible shapes: the first is the full shape; the second drops some leading axes
 * and sets some of the rest to 1 (the roles are swapped at random).
 */
export const broadcastShapesArb: fc.Arbitrary<readonly [number[], number[]]> = shapeArb(0, 4, 4).chain((full) =>
  fc
    .tuple(fc.integer({ min: 0, max: full.length }), fc.array(fc.boolean(), { minLength: full.length, maxLength: full.length }), fc.boolean())
    .map(([drop, ones, swap]) => {
      const other = full.slice(drop).map((d, i) => (ones[i + drop] === true ? 1 : d))
      return swap ? ([other, full] as const) : ([full, other] as const)
    }),
)

/** `n` float32 values uniform-ish in `[min, max]` (fast-check's float distribution, edges included). */
export const rangeDataArb =
  (min: number, max: number) =>
  (n: number): fc.Arbitrary<number[]> =>
    fc.array(valueArb(min, max), { minLength: n, maxLength: n })

/** A host tensor of a random shape with values in `[min, max]`. */
export const hostTensorArb = (options: { minRank?: number; maxRank?: number; maxDim?: number; min?: number; max?: number } = {}): fc.Arbitrary<HostTensor> =>
  shapeArb(options.minRank ?? 0, options.maxRank ?? 4, options.maxDim ?? 5).chain((shape) =>
    tensorArb(shape, rangeDataArb(options.min ?? -1e3, options.max ?? 1e3)),
  )

/** Two host tensors of broadcast-compatible shapes (`broadcastShapesArb`) with values in `[min, max]`. */
export const broadcastPairArb = (min = -1e3, max = 1e3): fc.Arbitrary<readonly [HostTensor, HostTensor]> =>
  broadcastShapesArb.chain(([a, b]) => fc.tuple(tensorArb(a, rangeDataArb(min, max)), tensorArb(b, rangeDataArb(min, max))))

/** A non-empty subset of the axes of a rank (or `undefined`: all axes), possibly with negative indices. */
export const axesArb = (rank: number): fc.Arbitrary<number[] | undefined> =>
  rank === 0
    ? fc.constant(undefined)
    : fc.option(
        fc
          .subarray(
            Array.from({ length: rank }, (_, i) => i),
            { minLength: 1 },
          )
          .chain((axes) =>
            fc.array(fc.boolean(), { minLength: axes.length, maxLength: axes.length }).map((neg) => axes.map((a, i) => (neg[i] === true ? a - rank : a))),
          ),
        { nil: undefined },
      )
