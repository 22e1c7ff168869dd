/**
 * Tolerance-aware equality of tensor data, the `Eq` every numerical law compares with.
 *
 * An element passes when `|actual − expected| ≤ atol + rtol·scale`, where `scale` is `|expected|`
 * unless given (e.g. the magnitude of the terms a reduction summed, for a forward error bound).
 * NaN equals NaN; infinities must match exactly.
 *
 * @module laws/eq
 */

/** Options of `allClose`. */
export interface CloseOptions {
  /** Relative tolerance. */
  readonly rtol: number
  /** Absolute tolerance. */
  readonly atol: number
  /** Per-element magnitude the relative tolerance applies to (default `|expected|`). */
  readonly scale?: ArrayLike<number>
  /** Prefix of the mismatch description. */
  readonly label?: string
}

/**
 * The first element that violates the tolerance, described (index, both values, the bound), or
 * `undefined` when all elements are close.
 */
export const firstMismatch = (actual: ArrayLike<number>, expected: ArrayLike<number>, o: CloseOptions): string | undefined => {
  const label = o.label === undefined ? '' : `${o.label}: `
  if (actual.length !== expected.length) return `${label}length ${actual.length}, expected ${expected.length}`
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!
    const e = expected[i]!
    if (a === e || (Number.isNaN(a) && Number.isNaN(e))) continue
    const s = o.scale === undefined ? Math.abs(e) : Math.abs(o.scale[i]!)
    const bound = o.atol + o.rtol * s
    if (!(Math.abs(a - e) <= bound)) {
      return `${label}element ${i}: got ${a}, expected ${e} (|diff| ${Math.abs(a - e)} > ${bound})`
    }
  }
  return undefined
}

/** True when every element of `actual` is within tolerance of `expected`. */
export const allClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, o: CloseOptions): boolean => firstMismatch(actual, expected, o) === undefined

/** Throws an `Error` describing the first element out of tolerance. */
export const assertAllClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, o: CloseOptions): void => {
  const m = firstMismatch(actual, expected, o)
  if (m !== undefined) throw new Error(m)
}
