/**
 * Reading the experiments: per claim, the mean ± std over seeds of each arm in each condition, and
 * a verdict computed from the numbers. Every comparison between two arms is paired by seed
 * (`experiments/paired`: both arms share each seed's initialisation and batches): the mean
 * difference with its 95 % Student-t interval, the sign count, and `reproduced` (the interval
 * excludes 0 in the paper's direction), `contradicted` (the other way) or `inconclusive` (with the
 * smallest effect the seeds could have detected). A claim is reproduced when all its comparisons
 * are, contradicted when any is, inconclusive otherwise.
 *
 * @module experiments/analysis
 */
import type { JobResult } from '../sweep/runJob.js'
import { type ClaimName, type ClaimRun } from './claims.js'
import { type MeanStd, meanStd } from './stats.js'
import { type Direction, type PairedComparison, type Verdict, describeComparison, pairedComparison } from './paired.js'

/** One cell of a claim's table: an arm in a condition over its seeds. */
export interface Cell {
  readonly arm: string
  readonly condition: string | number
  readonly seeds: number
  /** Metric name (with its unit) → mean ± std over seeds. */
  readonly metrics: Readonly<Record<string, MeanStd>>
}

/** A curve point of the semi-supervised runs: step → mean ± std of student and teacher accuracy (%). */
export interface CurvePoint {
  readonly arm: string
  readonly condition: string | number
  readonly step: number
  readonly student: MeanStd
  readonly teacher: MeanStd
}

/** A claim's measured result. */
/** One paired comparison of a claim: which arms, in which condition, on which metric. */
export interface ClaimComparison extends PairedComparison {
  readonly a: string
  readonly b: string
  readonly condition: string | number
  readonly metric: string
  readonly direction: Direction
}

export interface ClaimResult {
  readonly claim: ClaimName
  readonly cells: readonly Cell[]
  readonly curves: readonly CurvePoint[]
  /** The paired comparisons the verdict is computed from (empty for the WeightAlign spread claim). */
  readonly comparisons: readonly ClaimComparison[]
  /** `reproduced: …`, `contradicted: …`, `inconclusive: …` or `not enough finished runs …`. */
  readonly verdict: string
  /** The claim's overall verdict. */
  readonly outcome: Verdict
  /** Whether the claim reproduced (all its comparisons). */
  readonly reproduced: boolean
}

/** A claim's outcome from its comparisons: reproduced when all are, contradicted when any is, else inconclusive. */
const outcomeOf = (cs: readonly PairedComparison[]): Verdict =>
  cs.length > 0 && cs.every((c) => c.verdict === 'reproduced') ? 'reproduced' : cs.some((c) => c.verdict === 'contradicted') ? 'contradicted' : 'inconclusive'

const pct = (x: unknown): number => (typeof x === 'number' ? 100 * x : NaN)

/** The metrics of one run, by claim (accuracies in percent). */
const metricsOf = (claim: ClaimName, r: JobResult): Record<string, number> => {
  const x = r.result as Record<string, unknown>
  switch (claim) {
    case 'emanSemi': {
      const f = x.final as { student: number; teacher?: number }
      return { 'teacher accuracy (%)': pct(f.teacher), 'student accuracy (%)': pct(f.student) }
    }
    case 'emanSelf':
    case 'momentum2':
      return { 'linear probe (%)': pct(x.linearProbe), 'k-NN (%)': pct(x.knn) }
    case 'projectorOnly':
      return { 'linear probe (%)': pct(x.linearProbe), 'k-NN (%)': pct(x.knn), 'step time (ms)': typeof x.stepMs === 'number' ? x.stepMs : NaN }
    case 'weightAlign':
      return { 'test accuracy (%)': pct(x.accuracy) }
  }
}

const fmt = (m: MeanStd, digits = 1): string => (m.n > 1 ? `${m.mean.toFixed(digits)} ± ${m.std.toFixed(digits)}` : m.mean.toFixed(digits))

/** Groups the finished runs of a claim into cells and computes its verdict. */
export const analyseClaim = (claim: ClaimName, runs: readonly ClaimRun[], results: ReadonlyMap<ClaimRun, JobResult>): ClaimResult => {
  const groups = new Map<string, { arm: string; condition: string | number; values: Array<Record<string, number>>; seeds: number[]; curves: JobResult[] }>()
  for (const run of runs) {
    const r = results.get(run)
    if (r === undefined) continue
    const key = `${run.arm}\u0000${run.condition}`
    const g = groups.get(key) ?? { arm: run.arm, condition: run.condition, values: [], seeds: [], curves: [] }
    g.values.push(metricsOf(claim, r))
    g.seeds.push(run.seed)
    g.curves.push(r)
    groups.set(key, g)
  }
  const cells: Cell[] = [...groups.values()].map((g) => ({
    arm: g.arm,
    condition: g.condition,
    seeds: g.values.length,
    metrics: Object.fromEntries(Object.keys(g.values[0] ?? {}).map((k) => [k, meanStd(g.values.map((v) => v[k]!))])),
  }))
  const curves: CurvePoint[] = []
  if (claim === 'emanSemi') {
    for (const g of groups.values()) {
      const byStep = new Map<number, { s: number[]; t: number[] }>()
      for (const r of g.curves) {
        for (const p of (r.result as { curve?: Array<{ step: number; student: number; teacher?: number }> }).curve ?? []) {
          const e = byStep.get(p.step) ?? { s: [], t: [] }
          e.s.push(100 * p.student)
          e.t.push(100 * (p.teacher ?? p.student))
          byStep.set(p.step, e)
        }
      }
      for (const [step, e] of [...byStep.entries()].sort((a, b) => a[0] - b[0]))
        curves.push({ arm: g.arm, condition: g.condition, step, student: meanStd(e.s), teacher: meanStd(e.t) })
    }
  }
  const cell = (arm: string, condition: string | number): Cell | undefined => cells.find((c) => c.arm === arm && c.condition === condition)
  const m = (c: Cell | undefined, metric: string): MeanStd | undefined => c?.metrics[metric]
  const missing = (): ClaimResult => ({
    claim,
    cells,
    curves,
    comparisons: [],
    verdict: 'not enough finished runs for a verdict',
    outcome: 'inconclusive',
    reproduced: false,
  })
  /** An arm's metric by seed, in a condition. */
  const bySeed = (arm: string, condition: string | number, metric: string): Map<number, number> | undefined => {
    const g = groups.get(`${arm}\u0000${condition}`)
    return g === undefined ? undefined : new Map(g.seeds.map((s, i) => [s, g.values[i]![metric]!]))
  }
  /** `a − b` paired by seed, claimed in `direction`. */
  const compare = (a: string, b: string, condition: string | number, metric: string, direction: Direction = 'greater'): ClaimComparison | undefined => {
    const x = bySeed(a, condition, metric)
    const y = bySeed(b, condition, metric)
    return x === undefined || y === undefined ? undefined : { a, b, condition, metric, direction, ...pairedComparison(x, y, direction) }
  }
  /** The result of a claim from its comparisons, each described after its label. */
  const result = (comparisons: ReadonlyArray<readonly [string, ClaimComparison]>, tail = ''): ClaimResult => {
    const cs = comparisons.map(([, c]) => c)
    const outcome = outcomeOf(cs)
    return {
      claim,
      cells,
      curves,
      comparisons: cs,
      outcome,
      reproduced: outcome === 'reproduced',
      verdict: `${outcome}: ${comparisons.map(([label, c]) => `${label}: ${describeComparison(c)}`).join('; ')}${tail}`,
    }
  }

  switch (claim) {
    case 'emanSemi': {
      const cs: Array<readonly [string, ClaimComparison]> = []
      for (const f of [1, 10]) {
        const c = compare('EMAN teacher', 'BN teacher', f, 'teacher accuracy (%)')
        if (c === undefined) return missing()
        cs.push([`${f} % labels, EMAN − BN teacher accuracy`, c])
      }
      return result(cs, `; the mean gap is ${cs[0]![1].mean > cs[1]![1].mean ? 'larger' : 'not larger'} with fewer labels`)
    }
    case 'emanSelf': {
      const cs: Array<readonly [string, ClaimComparison]> = []
      for (const method of ['BYOL', 'MoCo v2']) {
        const c = compare(`${method}, EMAN teacher`, `${method}, BN teacher`, method, 'linear probe (%)')
        if (c === undefined) return missing()
        cs.push([`${method}, EMAN − BN linear probe`, c])
      }
      return result(cs)
    }
    case 'momentum2': {
      const cs: Array<readonly [string, ClaimComparison]> = []
      for (const batch of [8, 16, 32]) {
        const c = compare('Momentum BN teacher', 'BN teacher (batch statistics)', batch, 'linear probe (%)')
        if (c === undefined) return missing()
        cs.push([`batch ${batch}, Momentum BN − BN teacher linear probe`, c])
      }
      // the paper's claim is about small batches: the smallest batch decides, the others are reported
      const first = cs[0]!
      const r = result([first])
      return {
        ...r,
        comparisons: cs.map(([, c]) => c),
        verdict: `${r.verdict}; ${cs
          .slice(1)
          .map(([label, c]) => `${label}: ${describeComparison(c)}`)
          .join('; ')}`,
      }
    }
    case 'projectorOnly': {
      const acc = compare('projector-only momentum', 'full-encoder momentum', 'SimCLR', 'linear probe (%)')
      const time = compare('projector-only momentum', 'full-encoder momentum', 'SimCLR', 'step time (ms)', 'less')
      const pt = m(cell('projector-only momentum', 'SimCLR'), 'step time (ms)')
      const ft = m(cell('full-encoder momentum', 'SimCLR'), 'step time (ms)')
      if (acc === undefined || time === undefined || pt === undefined || ft === undefined) return missing()
      // the claim: cheaper steps (time, paired) at no loss of accuracy (the accuracy comparison must not be contradicted)
      const outcome: Verdict =
        time.verdict === 'reproduced' && acc.verdict !== 'contradicted'
          ? 'reproduced'
          : time.verdict === 'contradicted' || acc.verdict === 'contradicted'
            ? 'contradicted'
            : 'inconclusive'
      return {
        claim,
        cells,
        curves,
        comparisons: [acc, time],
        outcome,
        reproduced: outcome === 'reproduced',
        verdict: `${outcome}: step time, projector-only − full-encoder: ${describeComparison(time, ' ms')} (ratio ${(pt.mean / ft.mean).toFixed(2)}×); linear probe, projector-only − full-encoder: ${describeComparison(acc)}`,
      }
    }
    case 'weightAlign': {
      const arms = ['BN', 'GN', 'WA', 'WA+GN', 'WA+BN']
      const spread: Record<string, number> = {}
      for (const arm of arms) {
        const values = cells.filter((c) => c.arm === arm).map((c) => c.metrics['test accuracy (%)']!.mean)
        if (values.length < 2) return missing()
        spread[arm] = Math.max(...values) - Math.min(...values)
      }
      const bn1 = m(cell('BN', 1), 'test accuracy (%)')
      const bnMax = Math.max(...cells.filter((c) => c.arm === 'BN').map((c) => c.metrics['test accuracy (%)']!.mean))
      const reproduced = spread['WA+GN']! < spread.BN! && spread.WA! < spread.BN!
      const attribution =
        spread['WA+GN']! < spread.GN!
          ? 'WA+GN varies less than GN alone'
          : 'GN alone varies as little as WA+GN, so the stability is not attributable to WeightAlign'
      return {
        claim,
        cells,
        curves,
        comparisons: [],
        outcome: reproduced ? 'reproduced' : 'inconclusive',
        reproduced,
        verdict:
          `${reproduced ? 'reproduced' : 'inconclusive'} (in direction; a spread over batch sizes, not a paired interval): spread of mean accuracy across batch sizes ${arms.map((a) => `${a} ${spread[a]!.toFixed(1)}`).join(', ')} points` +
          `${bn1 === undefined ? '' : `; BN at batch 1 ${fmt(bn1)} vs its best ${bnMax.toFixed(1)}`}; ${attribution}`,
      }
    }
  }
}

/** A claim's table as rows (every metric as `mean` and `std` columns carrying the unit). */
export const tableRows = (r: ClaimResult): Array<Record<string, string | number>> =>
  r.cells.map((c) => ({
    arm: c.arm,
    condition: c.condition,
    seeds: c.seeds,
    ...Object.fromEntries(
      Object.entries(c.metrics).flatMap(([k, v]) => [
        [`${k} mean`, Number(v.mean.toFixed(2))],
        [`${k.replace(/ \(/, ' std (')}`, Number(v.std.toFixed(2))],
      ]),
    ),
  }))

export { fmt }
