/**
 * Reading the experiments: per claim, the mean ± std over seeds of each arm in each condition, and a
 * one-line verdict computed from the numbers: whether the claim reproduced in direction, the effect
 * size, and whether the effect exceeds the spread over seeds (|Δ| > s_A + s_B, the sum of the two
 * arms' sample standard deviations; with one seed there is no spread to compare with).
 *
 * @module experiments/analysis
 */
import type { JobResult } from '../sweep/runJob.js'
import { type ClaimName, type ClaimRun } from './claims.js'
import { type MeanStd, meanStd } from './stats.js'

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
export interface ClaimResult {
  readonly claim: ClaimName
  readonly cells: readonly Cell[]
  readonly curves: readonly CurvePoint[]
  readonly verdict: string
  /** Whether the claim reproduced in direction (all its comparisons). */
  readonly reproduced: boolean
}

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

/** `Δ = a − b` in words: signed, and whether it exceeds the seeds' spread. */
const compare = (a: MeanStd, b: MeanStd, unit = ' points'): { delta: number; text: string; exceeds: boolean } => {
  const delta = a.mean - b.mean
  const spread = a.std + b.std
  const exceeds = a.n > 1 && b.n > 1 && Math.abs(delta) > spread
  const sign = delta >= 0 ? '+' : '−'
  const tail =
    a.n > 1 && b.n > 1 ? (exceeds ? `, beyond the seed spread ${spread.toFixed(1)}` : `, within the seed spread ${spread.toFixed(1)}`) : ', one seed: no spread'
  return { delta, exceeds, text: `${sign}${Math.abs(delta).toFixed(1)}${unit}${tail}` }
}

/** Groups the finished runs of a claim into cells and computes its verdict. */
export const analyseClaim = (claim: ClaimName, runs: readonly ClaimRun[], results: ReadonlyMap<ClaimRun, JobResult>): ClaimResult => {
  const groups = new Map<string, { arm: string; condition: string | number; values: Array<Record<string, number>>; curves: JobResult[] }>()
  for (const run of runs) {
    const r = results.get(run)
    if (r === undefined) continue
    const key = `${run.arm}\u0000${run.condition}`
    const g = groups.get(key) ?? { arm: run.arm, condition: run.condition, values: [], curves: [] }
    g.values.push(metricsOf(claim, r))
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
  const missing = (): ClaimResult => ({ claim, cells, curves, verdict: 'not enough finished runs for a verdict', reproduced: false })

  switch (claim) {
    case 'emanSemi': {
      const parts: string[] = []
      const deltas: number[] = []
      for (const f of [1, 10]) {
        const e = m(cell('EMAN teacher', f), 'teacher accuracy (%)')
        const b = m(cell('BN teacher', f), 'teacher accuracy (%)')
        if (e === undefined || b === undefined) return missing()
        const c = compare(e, b)
        deltas.push(c.delta)
        parts.push(`${f} % labels: EMAN teacher ${fmt(e)} vs BN teacher ${fmt(b)} (${c.text})`)
      }
      const reproduced = deltas.every((d) => d > 0)
      return {
        claim,
        cells,
        curves,
        reproduced,
        verdict: `${reproduced ? 'reproduced in direction' : 'not reproduced'}: ${parts.join('; ')}; the gap is ${deltas[0]! > deltas[1]! ? 'larger' : 'not larger'} with fewer labels`,
      }
    }
    case 'emanSelf': {
      const parts: string[] = []
      let all = true
      for (const method of ['BYOL', 'MoCo v2']) {
        const e = m(cell(`${method}, EMAN teacher`, method), 'linear probe (%)')
        const b = m(cell(`${method}, BN teacher`, method), 'linear probe (%)')
        if (e === undefined || b === undefined) return missing()
        const c = compare(e, b)
        all &&= c.delta > 0
        parts.push(`${method}: EMAN ${fmt(e)} vs BN ${fmt(b)} linear probe (${c.text})`)
      }
      return { claim, cells, curves, reproduced: all, verdict: `${all ? 'reproduced in direction' : 'not reproduced'}: ${parts.join('; ')}` }
    }
    case 'momentum2': {
      const parts: string[] = []
      const deltas: number[] = []
      for (const batch of [8, 16, 32]) {
        const a = m(cell('Momentum BN teacher', batch), 'linear probe (%)')
        const b = m(cell('BN teacher (batch statistics)', batch), 'linear probe (%)')
        if (a === undefined || b === undefined) return missing()
        const c = compare(a, b)
        deltas.push(c.delta)
        parts.push(`batch ${batch}: ${fmt(a)} vs ${fmt(b)} (${c.text})`)
      }
      const reproduced = deltas[0]! > 0
      return {
        claim,
        cells,
        curves,
        reproduced,
        verdict: `${reproduced ? 'reproduced in direction at the smallest batch' : 'not reproduced'}: Momentum BN vs BN teacher, linear probe, ${parts.join('; ')}`,
      }
    }
    case 'projectorOnly': {
      const p = cell('projector-only momentum', 'SimCLR')
      const f = cell('full-encoder momentum', 'SimCLR')
      const n = cell('no momentum', 'SimCLR')
      const pa = m(p, 'linear probe (%)')
      const fa = m(f, 'linear probe (%)')
      const na = m(n, 'linear probe (%)')
      const pt = m(p, 'step time (ms)')
      const ft = m(f, 'step time (ms)')
      if (pa === undefined || fa === undefined || na === undefined || pt === undefined || ft === undefined) return missing()
      const c = compare(pa, fa)
      const ratio = pt.mean / ft.mean
      const reproduced = !c.exceeds && ratio < 1
      return {
        claim,
        cells,
        curves,
        reproduced,
        verdict: `${reproduced ? 'reproduced' : 'not reproduced'}: projector-only ${fmt(pa)} vs full-encoder ${fmt(fa)} linear probe (${c.text}), no momentum ${fmt(na)}; step time ratio projector-only / full ${ratio.toFixed(2)}× (${pt.mean.toFixed(1)} vs ${ft.mean.toFixed(1)} ms)`,
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
        reproduced,
        verdict:
          `${reproduced ? 'reproduced in direction' : 'not reproduced'}: spread of mean accuracy across batch sizes ${arms.map((a) => `${a} ${spread[a]!.toFixed(1)}`).join(', ')} points` +
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
