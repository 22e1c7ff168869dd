/**
 * Summary statistics over seeds.
 *
 * @module experiments/stats
 */

/** A mean with its sample standard deviation and the number of values. */
export interface MeanStd {
  readonly mean: number
  /** Sample standard deviation `√(Σ(x − x̄)²/(n − 1))`; 0 for one value. */
  readonly std: number
  readonly n: number
}

/** `x̄ = Σx/n` and the sample standard deviation `√(Σ(x − x̄)²/(n − 1))` (0 when n = 1). */
export const meanStd = (xs: readonly number[]): MeanStd => {
  const n = xs.length
  const mean = xs.reduce((a, b) => a + b, 0) / n
  const std = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0
  return { mean, std, n }
}
