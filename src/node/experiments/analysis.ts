/**
 * Reading the experiments: per claim, the mean ± std over seeds of each arm in each condition, and
 * a verdict computed from the numbers. Every comparison between two arms is paired by seed
 * (`experiments/paired`: both arms share each seed's initialisation and batches): the mean
 * difference with its 95 % Student-t interval, the sign count, and `reproduced` (the interval
 * excludes 0 in the paper's direction), `contradicted` (the other way) or `inconclusive` (with the
 * smallest effect the seeds could have detected). A claim is reproduced when all its deciding
 * comparisons are, contradicted when any is, inconclusive otherwise (each claim's `DESIGN` says
 * which comparisons decide).
 *
 * @module experiments/analysis
 */
import type { JobResult } from '../sweep/runJob.js'
import { BYOL_TEACHERS, type ClaimName, type ClaimRun, WA_ARMS, WA_REFERENCE_BATCH, budgetOf } from './claims.js'
import type { StepTimingResult } from './stepTiming.js'
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

/** A learning-curve point of an arm in a condition: step → mean ± std over seeds of each series (accuracies in %). */
export interface CurvePoint {
  readonly arm: string
  readonly condition: string | number
  readonly step: number
  /** Series name (`teacher`, `student`, `k-NN`, `test accuracy`) → mean ± std over seeds. */
  readonly series: Readonly<Record<string, MeanStd>>
}

/** One paired comparison of a claim: which arms, in which condition, on which metric. */
export interface ClaimComparison extends PairedComparison {
  readonly a: string
  readonly b: string
  readonly condition: string | number
  readonly metric: string
  readonly direction: Direction
  /** Whether the comparison decides the verdict (false: reported alongside). */
  readonly decides: boolean
}

/** WeightAlign's learning-rate selection: the grid, each arm's validation accuracy at each value, and the picks. */
export interface LrSelection {
  readonly grid: readonly number[]
  readonly table: ReadonlyArray<{ readonly arm: string; readonly lr: number; readonly accuracy: number }>
  /** Arm → the picked base learning rate (at batch 64). */
  readonly picks: ReadonlyMap<string, number>
}

/** A claim's measured result. */
export interface ClaimResult {
  readonly claim: ClaimName
  readonly cells: readonly Cell[]
  readonly curves: readonly CurvePoint[]
  /** The paired comparisons the verdict is computed from (`decides`), and those reported alongside. */
  readonly comparisons: readonly ClaimComparison[]
  /** `reproduced: …`, `contradicted: …`, `inconclusive: …` or `not enough finished runs …`. */
  readonly verdict: string
  /** The claim's overall verdict. */
  readonly outcome: Verdict
  /** Whether the claim reproduced (all its deciding comparisons). */
  readonly reproduced: boolean
  /** WeightAlign: the learning-rate selection. */
  readonly selection?: LrSelection
  /** Projector-only: the step-time measurement. */
  readonly timing?: StepTimingResult
}

/** A claim's outcome from its deciding comparisons: reproduced when all are, contradicted when any is, else inconclusive. */
export const outcomeOf = (cs: readonly PairedComparison[]): Verdict =>
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
    case 'projectorOnly':
      return { 'linear probe (%)': pct(x.linearProbe), 'k-NN (%)': pct(x.knn) }
    case 'weightAlign':
      return { 'test accuracy (%)': pct(x.accuracy) }
  }
}

/** The learning curve of one run: step → series values (%). */
const curveOf = (claim: ClaimName, r: JobResult): Array<{ step: number; values: Record<string, number> }> => {
  const x = r.result as { curve?: Array<Record<string, number>> }
  return (x.curve ?? []).map((p) => ({
    step: p.step!,
    values:
      claim === 'emanSemi'
        ? { teacher: 100 * (p.teacher ?? p.student!), student: 100 * p.student! }
        : claim === 'weightAlign'
          ? { 'test accuracy': 100 * p.accuracy! }
          : { 'k-NN': 100 * p.knn! },
  }))
}

/** A comparison in words, in its unit; step times are paired by interleaved pair, the rest by seed. */
export const describe = (c: ClaimComparison): string => (c.metric.includes('(ms)') ? describeComparison(c, ' ms', 'pairs') : describeComparison(c))

const fmt = (m: MeanStd, digits = 1): string => (m.n > 1 ? `${m.mean.toFixed(digits)} ± ${m.std.toFixed(digits)}` : m.mean.toFixed(digits))

/**
 * Each WeightAlign arm's base learning rate: the grid value with the highest validation accuracy
 * in its selection run (ties: the smaller rate). An arm with no finished selection run has no pick.
 */
export const pickLearningRates = (runs: readonly ClaimRun[], results: ReadonlyMap<ClaimRun, JobResult>): LrSelection => {
  const table: Array<{ arm: string; lr: number; accuracy: number }> = []
  for (const r of runs) {
    const j = results.get(r)
    if (r.selection !== undefined && j !== undefined)
      table.push({ arm: r.arm, lr: r.selection.lr, accuracy: pct((j.result as { accuracy?: number }).accuracy) })
  }
  const picks = new Map<string, number>()
  for (const arm of new Set(table.map((t) => t.arm))) {
    const best = table.filter((t) => t.arm === arm && Number.isFinite(t.accuracy)).sort((a, b) => b.accuracy - a.accuracy || a.lr - b.lr)[0]
    if (best !== undefined) picks.set(arm, best.lr)
  }
  return { grid: [...new Set(runs.flatMap((r) => (r.selection === undefined ? [] : [r.selection.lr])))], table, picks }
}

/** Groups the finished runs of a claim into cells and computes its verdict. */
export const analyseClaim = (
  claim: ClaimName,
  runs: readonly ClaimRun[],
  results: ReadonlyMap<ClaimRun, JobResult>,
  extra: { readonly timing?: StepTimingResult; readonly selection?: LrSelection } = {},
): ClaimResult => {
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
  for (const g of groups.values()) {
    const byStep = new Map<number, Map<string, number[]>>()
    for (const r of g.curves)
      for (const p of curveOf(claim, r)) {
        const e = byStep.get(p.step) ?? new Map<string, number[]>()
        for (const [k, v] of Object.entries(p.values)) e.set(k, [...(e.get(k) ?? []), v])
        byStep.set(p.step, e)
      }
    for (const [step, e] of [...byStep.entries()].sort((a, b) => a[0] - b[0]))
      curves.push({ arm: g.arm, condition: g.condition, step, series: Object.fromEntries([...e.entries()].map(([k, v]) => [k, meanStd(v)])) })
  }
  const base = {
    claim,
    cells,
    curves,
    ...(extra.selection === undefined ? {} : { selection: extra.selection }),
    ...(extra.timing === undefined ? {} : { timing: extra.timing }),
  }
  const missing = (): ClaimResult => ({
    ...base,
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
  /** The comparison of arms `a` and `b` from their values by seed (`x`, `y`), claimed in `direction`; undefined where either is missing. */
  const pairUp = (
    a: string,
    b: string,
    condition: string | number,
    metric: string,
    x: ReadonlyMap<number, number> | undefined,
    y: ReadonlyMap<number, number> | undefined,
    decides: boolean,
    direction: Direction = 'greater',
  ): ClaimComparison | undefined =>
    x === undefined || y === undefined ? undefined : { a, b, condition, metric, direction, decides, ...pairedComparison(x, y, direction) }
  /** `a − b` of `metric` in `condition`, paired by seed, claimed in `direction`. */
  const compare = (a: string, b: string, condition: string | number, metric: string, decides = true, direction: Direction = 'greater') =>
    pairUp(a, b, condition, metric, bySeed(a, condition, metric), bySeed(b, condition, metric), decides, direction)
  /** The result from labelled comparisons (the deciding ones decide), each described after its label. */
  const result = (comparisons: ReadonlyArray<readonly [string, ClaimComparison]>, tail = '', outcome?: Verdict): ClaimResult => {
    const cs = comparisons.map(([, c]) => c)
    const o = outcome ?? outcomeOf(cs.filter((c) => c.decides))
    const said = (d: boolean) => comparisons.filter(([, c]) => c.decides === d).map(([label, c]) => `${label}: ${describe(c)}`)
    const also = said(false)
    return {
      ...base,
      comparisons: cs,
      outcome: o,
      reproduced: o === 'reproduced',
      verdict: `${o}: ${said(true).join('; ')}${also.length > 0 ? `; reported alongside: ${also.join('; ')}` : ''}${tail}`,
    }
  }
  const conditions = (arm: string): Array<string | number> => cells.filter((c) => c.arm === arm).map((c) => c.condition)

  switch (claim) {
    case 'emanSemi': {
      const cs: Array<readonly [string, ClaimComparison]> = []
      for (const k of conditions('EMAN teacher')) {
        const c = compare('EMAN teacher', 'BN teacher', k, 'teacher accuracy (%)')
        if (c !== undefined) cs.push([`${k} labels per class, EMAN − BN teacher accuracy`, c])
      }
      if (cs.length === 0) return missing()
      const sorted = [...cs].sort((x, y) => Number(x[1].condition) - Number(y[1].condition))
      const tail =
        sorted.length > 1 ? `; the mean gap is ${sorted[0]![1].mean > sorted[sorted.length - 1]![1].mean ? 'larger' : 'not larger'} with fewer labels` : ''
      return result(sorted, tail)
    }
    case 'emanSelf':
    case 'momentum2': {
      const challenger = claim === 'emanSelf' ? BYOL_TEACHERS[1][1] : BYOL_TEACHERS[2][1]
      const bn = BYOL_TEACHERS[0][1]
      const batches = conditions(challenger)
        .map(Number)
        .sort((x, y) => x - y)
      const cs: Array<readonly [string, ClaimComparison]> = []
      for (const [i, batch] of batches.entries()) {
        // EMAN-self is claimed at every batch; Momentum² at small batches: the smallest decides
        const decides = claim === 'emanSelf' || i === 0
        const c = compare(challenger, bn, batch, 'linear probe (%)', decides)
        if (c !== undefined) cs.push([`batch ${batch}, ${claim === 'emanSelf' ? 'EMAN' : 'Momentum BN'} − BN teacher linear probe`, c])
        const k = compare(challenger, bn, batch, 'k-NN (%)', false)
        if (k !== undefined) cs.push([`batch ${batch}, k-NN`, k])
      }
      if (!cs.some(([, c]) => c.decides)) return missing()
      return result(cs)
    }
    case 'projectorOnly': {
      const acc = compare('projector-only momentum', 'full-encoder momentum', 'SimCLR', 'linear probe (%)', false)
      if (acc === undefined || extra.timing === undefined || extra.timing.backends.length === 0) return missing()
      const times = extra.timing.backends.map(
        (t) =>
          [
            `step time on ${t.backend}, projector-only − full-encoder (ratio ${t.ratio.toFixed(2)}×)`,
            {
              a: 'projector-only momentum',
              b: 'full-encoder momentum',
              condition: t.backend,
              metric: 'step time (ms)',
              direction: 'less' as const,
              decides: true,
              ...t.comparison,
            },
          ] as const,
      )
      // the claim: cheaper steps on every backend measured, at no loss of accuracy (not contradicted)
      const timeOutcome = outcomeOf(times.map(([, c]) => c))
      const outcome: Verdict =
        acc.verdict === 'contradicted' || timeOutcome === 'contradicted' ? 'contradicted' : timeOutcome === 'reproduced' ? 'reproduced' : 'inconclusive'
      return result([...times, ['linear probe, projector-only − full-encoder (must not be contradicted)', acc]], '', outcome)
    }
    case 'weightAlign': {
      const metric = 'test accuracy (%)'
      const smallest = Math.min(...conditions('BN').map(Number))
      const largest = Math.max(...conditions('BN').map(Number))
      if (!(largest > smallest)) return missing()
      /** Per seed: the arm's accuracy at the largest batch minus at the smallest. */
      const drop = (arm: string): Map<number, number> | undefined => {
        const hi = bySeed(arm, largest, metric)
        const lo = bySeed(arm, smallest, metric)
        return hi === undefined || lo === undefined ? undefined : new Map([...hi].filter(([s]) => lo.has(s)).map(([s, v]) => [s, v - lo.get(s)!]))
      }
      const cs: Array<readonly [string, ClaimComparison]> = []
      const condition = `${largest} → ${smallest}`
      const dropMetric = `accuracy drop from batch ${largest} to ${smallest} (points)`
      /** `a`'s drop − `b`'s drop, paired by seed, claimed positive. */
      const compareDrops = (label: string, a: string, b: string, decides: boolean): void => {
        const c = pairUp(a, b, condition, dropMetric, drop(a), drop(b), decides)
        if (c !== undefined) cs.push([label, c])
      }
      for (const [other, decides] of [
        ['WA', true],
        ['WA+GN', true],
        ['GN', false],
        ['WA+BN', false],
      ] as const)
        compareDrops(`BN’s drop − ${other}’s drop`, 'BN', other, decides)
      compareDrops('GN’s drop − WA+GN’s drop (does WeightAlign add to GN?)', 'GN', 'WA+GN', false)
      for (const arm of ['WA', 'WA+GN', 'WA+BN', 'GN']) {
        const c = compare(arm, 'BN', smallest, metric, false)
        if (c !== undefined) cs.push([`batch ${smallest}, ${arm} − BN accuracy`, c])
      }
      if (!cs.some(([, c]) => c.decides)) return missing()
      const bn1 = cells.find((c) => c.arm === 'BN' && c.condition === smallest)?.metrics[metric]
      return result(cs, bn1 === undefined ? '' : `; BN at batch ${smallest}: ${fmt(bn1)} %`)
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
