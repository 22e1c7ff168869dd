/**
 * fast-check arbitraries for shapes and float32 tensor data used by the project's tests.
 */
import fc from 'fast-check'

/** A host-side tensor: shape and row-major float32-representable values. */
export interface HostTensor {
  readonly shape: readonly number[]
  readonly data: readonly number[]
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1)

/** Shapes of rank `minRank..maxRank` with dimensions `1..maxDim` (size-1 axes included). */
export const shapeArb = (minRank = 0, maxRank = 4, maxDim = 5): fc.Arbitrary<number[]> =>
  fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: minRank, maxLength: maxRank })

/** float32 values in `[min, max]`, no NaN or infinities. */
export const valueArb = (min: number, max: number): fc.Arbitrary<number> =>
  fc.float({ min: Math.fround(min), max: Math.fround(max), noNaN: true, noDefaultInfinity: true })

/** Data for `shape` with values in `[min, max]`. */
export const dataArb = (shape: readonly number[], min = -1e3, max = 1e3): fc.Arbitrary<number[]> => {
  const n = sizeOf(shape)
  return fc.array(valueArb(min, max), { minLength: n, maxLength: n })
}

/** A host tensor of a random shape. */
export const hostTensorArb = (
  options: { minRank?: number; maxRank?: number; maxDim?: number; min?: number; max?: number } = {},
): fc.Arbitrary<HostTensor> =>
  shapeArb(options.minRank ?? 0, options.maxRank ?? 4, options.maxDim ?? 5).chain((shape) =>
    dataArb(shape, options.min ?? -1e3, options.max ?? 1e3).map((data) => ({ shape, data })),
  )

/** A host tensor of a given shape. */
export const hostTensorOfShape = (shape: readonly number[], min = -1e3, max = 1e3): fc.Arbitrary<HostTensor> =>
  dataArb(shape, min, max).map((data) => ({ shape, data }))

/**
 * A pair of broadcast-compatible shapes: the first is the full shape; the second drops some
 * leading axes and sets some of the rest to 1 (and the roles are swapped at random).
 */
export const broadcastPairArb = (min = -1e3, max = 1e3): fc.Arbitrary<readonly [HostTensor, HostTensor]> =>
  shapeArb(0, 4, 4)
    .chain((full) =>
      fc
        .tuple(
          fc.integer({ min: 0, max: full.length }),
          fc.array(fc.boolean(), { minLength: full.length, maxLength: full.length }),
          fc.boolean(),
        )
        .map(([drop, ones, swap]) => {
          const other = full.slice(drop).map((d, i) => (ones[i + drop] === true ? 1 : d))
          return swap ? ([other, full] as const) : ([full, other] as const)
        }),
    )
    .chain(([sa, sb]) => fc.tuple(hostTensorOfShape(sa, min, max), hostTensorOfShape(sb, min, max)))

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
            fc
              .array(fc.boolean(), { minLength: axes.length, maxLength: axes.length })
              .map((neg) => axes.map((a, i) => (neg[i] === true ? a - rank : a))),
          ),
        { nil: undefined },
      )
