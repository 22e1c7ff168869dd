/**
 * Paired analysis of a claim: both arms of a comparison share each seed (the same initialisation
 * and the same batches), so the per-seed differences `d_s = a_s − b_s` cancel the noise the arms
 * share. For each comparison: the mean difference with a two-sided 95 % Student-t interval
 * `d̄ ± t_{0.975, n−1}·s_d/√n`, the sign count, and one verdict out of three, computed from the
 * interval alone:
 *
 * - **reproduced**: the interval excludes 0 in the paper's direction;
 * - **contradicted**: it excludes 0 the other way;
 * - **inconclusive**: it contains 0 — and then the smallest effect this number of seeds could have
 *   detected, `MDE = (t_{0.975, n−1} + t_{0.8, n−1})·s_d/√n` (a two-sided 5 % test with 80 %
 *   power, from the measured paired spread).
 *
 * The t quantiles come from the regularized incomplete beta function (Lentz's continued fraction)
 * and bisection on the CDF: no table, any number of seeds.
 *
 * @module experiments/paired
 */
import { InvalidArgumentError } from '../../core/errors.js'

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: |error| < 1e-13 relative). */
const logGamma = (x: number): number => {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
    9.9843695780195716e-6, 1.5056327351493116e-7,
  ]
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x)
  const z = x - 1
  let a = c[0]!
  const t = z + 7.5
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i)
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a)
}

/** The continued fraction of the incomplete beta function (modified Lentz). */
const betaFraction = (a: number, b: number, x: number): number => {
  const tiny = 1e-300
  let c = 1
  let d = 1 - ((a + b) * x) / (a + 1)
  if (Math.abs(d) < tiny) d = tiny
  d = 1 / d
  let h = d
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m
    let aa = (m * (b - m) * x) / ((a - 1 + m2) * (a + m2))
    d = 1 + aa * d
    if (Math.abs(d) < tiny) d = tiny
    c = 1 + aa / c
    if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    h *= d * c
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + 1 + m2))
    d = 1 + aa * d
    if (Math.abs(d) < tiny) d = tiny
    c = 1 + aa / c
    if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    const del = d * c
    h *= del
    if (Math.abs(del - 1) < 1e-15) break
  }
  return h
}

/** The regularized incomplete beta function `I_x(a, b)`. */
export const incompleteBeta = (x: number, a: number, b: number): number => {
  if (x <= 0) return 0
  if (x >= 1) return 1
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x))
  return x < (a + 1) / (a + b + 2) ? (front * betaFraction(a, b, x)) / a : 1 - (front * betaFraction(b, a, 1 - x)) / b
}

/** Student's t CDF with `df` degrees of freedom: `P(T ≤ t) = 1 − ½·I_{df/(df+t²)}(df/2, ½)` for t ≥ 0. */
export const studentTCdf = (t: number, df: number): number => {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5)
  return t >= 0 ? 1 - tail : tail
}

/** The `p`-quantile of Student's t with `df` degrees of freedom (bisection on the CDF to 1e-12). */
export const studentTQuantile = (p: number, df: number): number => {
  if (!(p > 0 && p < 1)) throw new InvalidArgumentError('studentTQuantile: p', `must lie in (0, 1), got ${p}`)
  if (!(df > 0)) throw new InvalidArgumentError('studentTQuantile: df', `must be > 0, got ${df}`)
  let lo = -1e6
  let hi = 1e6
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, Math.abs(hi)); i++) {
    const mid = (lo + hi) / 2
    if (studentTCdf(mid, df) < p) lo = mid
    else hi = mid
  }
  return (lo + hi) / 2
}

/** The direction a paper claims for `a − b`. */
export type Direction = 'greater' | 'less'

/** One verdict out of three (module doc). */
export type Verdict = 'reproduced' | 'contradicted' | 'inconclusive'

/** The paired comparison of two arms over the seeds they share. */
export interface PairedComparison {
  /** Seeds paired (both arms finished). */
  readonly n: number
  /** The per-seed differences `a_s − b_s`, in seed order. */
  readonly differences: readonly number[]
  readonly seeds: readonly number[]
  /** The paired values themselves, in seed order (`a_s`, `b_s`). */
  readonly pairs: ReadonlyArray<readonly [number, number]>
  /** `d̄`. */
  readonly mean: number
  /** `s_d`, the sample standard deviation of the differences (0 for one pair). */
  readonly sd: number
  /** The two-sided 95 % Student-t interval of the mean difference (infinite with fewer than 2 pairs). */
  readonly interval: readonly [number, number]
  /** How many differences are positive, negative, zero. */
  readonly signs: { readonly positive: number; readonly negative: number; readonly zero: number }
  readonly verdict: Verdict
  /** The smallest effect a two-sided 5 % test with 80 % power detects with these `n` pairs and this spread. */
  readonly smallestDetectable: number
}

/**
 * Pairs `a` and `b` by seed (`Map` seed → value; seeds present in both) and computes the
 * comparison of `a − b` against the claimed `direction`.
 *
 * @example
 * pairedComparison(new Map([[0, 71], [1, 73]]), new Map([[0, 69], [1, 70]]), 'greater')
 */
export const pairedComparison = (a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>, direction: Direction): PairedComparison => {
  const seeds = [...a.keys()].filter((s) => b.has(s) && Number.isFinite(a.get(s)!) && Number.isFinite(b.get(s)!)).sort((x, y) => x - y)
  const pairs = seeds.map((s) => [a.get(s)!, b.get(s)!] as const)
  const differences = pairs.map(([x, y]) => x - y)
  const n = differences.length
  const mean = n === 0 ? NaN : differences.reduce((x, y) => x + y, 0) / n
  const sd = n > 1 ? Math.sqrt(differences.reduce((x, d) => x + (d - mean) ** 2, 0) / (n - 1)) : 0
  const signs = {
    positive: differences.filter((d) => d > 0).length,
    negative: differences.filter((d) => d < 0).length,
    zero: differences.filter((d) => d === 0).length,
  }
  if (n < 2) return { n, differences, seeds, pairs, mean, sd, interval: [-Infinity, Infinity], signs, verdict: 'inconclusive', smallestDetectable: Infinity }
  const se = sd / Math.sqrt(n)
  const t975 = studentTQuantile(0.975, n - 1)
  const interval: [number, number] = [mean - t975 * se, mean + t975 * se]
  const verdict: Verdict =
    interval[0] > 0
      ? direction === 'greater'
        ? 'reproduced'
        : 'contradicted'
      : interval[1] < 0
        ? direction === 'less'
          ? 'reproduced'
          : 'contradicted'
        : 'inconclusive'
  const smallestDetectable = (t975 + studentTQuantile(0.8, n - 1)) * se
  return { n, differences, seeds, pairs, mean, sd, interval, signs, verdict, smallestDetectable }
}

/**
 * A comparison in words: `Δ +2.1 [0.8, 3.4] (t, 95 %), 5/5 seeds positive: reproduced`, with the
 * smallest detectable effect when inconclusive; `pairs` names what is paired (`seeds`, or the
 * interleaved timing `pairs`).
 */
export const describeComparison = (c: PairedComparison, unit = ' points', pairs = 'seeds'): string => {
  const one = pairs.replace(/s$/, '')
  if (c.n < 2)
    return `Δ ${c.n === 1 ? c.mean.toFixed(1) : 'n/a'}${unit} over ${c.n} paired ${c.n === 1 ? one : pairs}: inconclusive (an interval needs 2 ${pairs})`
  const f = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)}`
  const base = `Δ ${f(c.mean)}${unit} [${f(c.interval[0])}, ${f(c.interval[1])}] (paired t, 95 %), ${c.signs.positive}/${c.n} ${pairs} positive`
  return c.verdict === 'inconclusive'
    ? `${base}: inconclusive; ${c.n} ${pairs} could detect |Δ| ≥ ${c.smallestDetectable.toFixed(1)}${unit}`
    : `${base}: ${c.verdict}`
}
