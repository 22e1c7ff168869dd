/**
 * The experiments' results page: one section per claim with its plots (mean ± std bands, drawn only
 * when there is more than one seed; colour = arm, dash = student or teacher; full legend labels; axis
 * titles with units), its table (percent everywhere, the unit in every CSV column name) and its
 * verdict; `results.json` with the versions, the backend, the date, every hyperparameter and the
 * seed list.
 *
 * @module experiments/report
 */
import type * as vl from 'vega-lite'
import { type ReportSection, writeReport } from '../report/report.js'
import { VERSION } from '../../version.js'
import { type ClaimComparison, type ClaimResult, type CurvePoint, describe, tableRows } from './analysis.js'
import type { MeanStd } from './stats.js'

import { CLAIM_TEXT, type ClaimName, type ClaimRun, DESIGN, budgetOf, SELECTION_SEED, WA_REFERENCE_BATCH } from './claims.js'

interface BandRow {
  readonly x: number | string
  readonly y: number
  readonly lo: number
  readonly hi: number
  readonly arm: string
  readonly role?: string
}

/** A line chart of mean ± std over seeds: colour = arm, dash = role, band only with more than one seed. */
export const bandChart = (o: {
  title: string
  rows: readonly BandRow[]
  xTitle: string
  yTitle: string
  xLog?: boolean
  bands: boolean
  dash?: boolean
}): vl.TopLevelSpec => {
  const x = { field: 'x', type: 'quantitative' as const, title: o.xTitle, ...(o.xLog === true ? { scale: { type: 'log' as const, base: 2 } } : {}) }
  const color = { field: 'arm', type: 'nominal' as const, title: 'arm', legend: { labelLimit: 0 } }
  const line = {
    mark: { type: 'line' as const, point: true },
    encoding: {
      x,
      y: { field: 'y', type: 'quantitative' as const, title: o.yTitle, scale: { zero: false } },
      color,
      ...(o.dash === true ? { strokeDash: { field: 'role', type: 'nominal' as const, title: 'model', legend: { labelLimit: 0 } } } : {}),
    },
  }
  const band = {
    mark: { type: 'errorband' as const, opacity: 0.18 },
    encoding: {
      x,
      y: { field: 'lo', type: 'quantitative' as const, title: o.yTitle },
      y2: { field: 'hi' },
      color,
      ...(o.dash === true ? { detail: { field: 'role', type: 'nominal' as const } } : {}),
    },
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: o.title,
    width: 440,
    height: 260,
    data: { values: o.rows },
    layer: o.bands ? [line, band] : [line],
  } as vl.TopLevelSpec
}

/** Points with ± std error bars for arms without a numeric condition. */
export const pointsChart = (o: { title: string; rows: readonly BandRow[]; yTitle: string; bands: boolean }): vl.TopLevelSpec =>
  ({
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: o.title,
    width: 440,
    height: 220,
    data: { values: o.rows },
    layer: [
      ...(o.bands
        ? [
            {
              mark: { type: 'rule' },
              encoding: {
                x: { field: 'arm', type: 'nominal', title: 'arm', axis: { labelLimit: 0, labelAngle: -20 } },
                y: { field: 'lo', type: 'quantitative', title: o.yTitle },
                y2: { field: 'hi' },
                color: { field: 'arm', type: 'nominal', title: 'arm', legend: { labelLimit: 0 } },
              },
            },
          ]
        : []),
      {
        mark: { type: 'point', filled: true, size: 80 },
        encoding: {
          x: { field: 'arm', type: 'nominal', title: 'arm', axis: { labelLimit: 0, labelAngle: -20 } },
          y: { field: 'y', type: 'quantitative', title: o.yTitle, scale: { zero: false } },
          color: { field: 'arm', type: 'nominal', title: 'arm', legend: { labelLimit: 0 } },
        },
      },
    ],
  }) as vl.TopLevelSpec

/** A plotted mean with its ± std band. */
const bandRow = (x: number | string, m: MeanStd, arm: string, role?: string): BandRow => ({
  x,
  y: m.mean,
  lo: m.mean - m.std,
  hi: m.mean + m.std,
  arm,
  ...(role === undefined ? {} : { role }),
})

const rowsOf = (r: ClaimResult, metric: string, x: (c: { condition: string | number }) => number | string): BandRow[] =>
  r.cells.map((c) => bandRow(x(c), c.metrics[metric]!, c.arm))

/**
 * One paired comparison as a slope chart: each seed a line from its value in arm `b` to its value in
 * arm `a` (the pairing the verdict uses), and the two means as black diamonds.
 */
export const pairedChart = (c: ClaimComparison): vl.TopLevelSpec => {
  const timed = c.metric.includes('(ms)')
  const rows = c.pairs.flatMap(([a, b], i) => [
    { arm: c.b, y: b, seed: String(c.seeds[i]) },
    { arm: c.a, y: a, seed: String(c.seeds[i]) },
  ])
  const mean = (k: 0 | 1) => c.pairs.reduce((s, p) => s + p[k], 0) / Math.max(1, c.pairs.length)
  const x = { field: 'arm', type: 'nominal' as const, title: null, sort: [c.b, c.a], axis: { labelLimit: 0, labelAngle: 0 } }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: `${c.a} − ${c.b} (${c.condition}): paired by ${timed ? 'interleaved pair' : 'seed'}`, subtitle: describe(c) },
    width: 320,
    height: 220,
    layer: [
      {
        data: { values: rows },
        mark: { type: 'line', point: true, opacity: 0.7 },
        encoding: {
          x,
          y: { field: 'y', type: 'quantitative', title: c.metric, scale: { zero: false } },
          color: { field: 'seed', type: 'nominal', title: timed ? 'pair' : 'seed' },
        },
      },
      {
        data: {
          values: [
            { arm: c.b, y: mean(1) },
            { arm: c.a, y: mean(0) },
          ],
        },
        mark: { type: 'point', shape: 'diamond', filled: true, size: 140, color: 'black' },
        encoding: { x, y: { field: 'y', type: 'quantitative' } },
      },
    ],
  } as vl.TopLevelSpec
}

/** The plots of a claim: its own, then one paired slope chart per comparison. */
export const claimCharts = (r: ClaimResult, seeds: number, waImages: number): vl.TopLevelSpec[] => [
  ...ownCharts(r, seeds, waImages),
  ...r.comparisons.filter((c) => c.n > 1).map(pairedChart),
]

/** Curve rows of a claim: x = step (or `x(p)`), colour = arm, dash = `role(p)`. */
const curveRows = (r: ClaimResult, series: string, role: (p: CurvePoint) => string, x: (p: CurvePoint) => number = (p) => p.step): BandRow[] =>
  r.curves.filter((p) => p.series[series] !== undefined).map((p) => bandRow(x(p), p.series[series]!, p.arm, role(p)))

/** A claim's own plots; `waImages`: the WeightAlign runs' training images (epochs on a curve's x axis). */
const ownCharts = (r: ClaimResult, seeds: number, waImages: number): vl.TopLevelSpec[] => {
  const bands = seeds > 1
  switch (r.claim) {
    case 'emanSemi':
      return [...new Set(r.curves.map((p) => p.condition))].map((k) =>
        bandChart({
          title: `FixMatch, ${k} labels per class: test accuracy against step`,
          rows: r.curves
            .filter((p) => p.condition === k)
            .flatMap((p) => (['teacher', 'student'] as const).map((role) => bandRow(p.step, p.series[role]!, p.arm, role))),
          xTitle: 'training step',
          yTitle: 'test accuracy (%)',
          bands,
          dash: true,
        }),
      )
    case 'emanSelf':
    case 'momentum2':
      return [
        bandChart({
          title: 'Linear probe against batch size',
          rows: rowsOf(r, 'linear probe (%)', (c) => c.condition),
          xTitle: 'batch size',
          yTitle: 'linear probe accuracy (%)',
          xLog: true,
          bands,
        }),
        bandChart({
          title: 'k-NN accuracy against step (has the run flattened?)',
          rows: curveRows(r, 'k-NN', (p) => `batch ${p.condition}`),
          xTitle: 'training step',
          yTitle: 'k-NN accuracy (%)',
          bands: false,
          dash: true,
        }),
      ]
    case 'projectorOnly':
      return [
        pointsChart({ title: 'Linear probe on frozen features', rows: rowsOf(r, 'linear probe (%)', () => 0), yTitle: 'linear probe accuracy (%)', bands }),
      ]
    case 'weightAlign':
      return [
        bandChart({
          title: 'Test accuracy against batch size (same epochs at every size, lr ∝ batch, BN in eval mode)',
          rows: rowsOf(r, 'test accuracy (%)', (c) => c.condition),
          xTitle: 'batch size',
          yTitle: 'test accuracy (%)',
          xLog: true,
          bands,
        }),
        bandChart({
          title: 'Test accuracy against epoch (has the run flattened?)',
          rows: curveRows(
            r,
            'test accuracy',
            (p) => `batch ${p.condition}`,
            (p) => (p.step * Number(p.condition)) / waImages,
          ),
          xTitle: 'epoch',
          yTitle: 'test accuracy (%)',
          bands: false,
          dash: true,
        }),
      ]
  }
}

/** What `results.json` records besides the results. */
export interface RunInfo {
  readonly budget: string
  readonly dataset: string
  readonly backend: string
  readonly seeds: readonly number[]
  readonly workers: number
  readonly seconds: number
  readonly command: string
  readonly tfjs: string
  /** Image side in pixels. */
  readonly resolution: number
}

const signed = (x: number, digits = 2): string => (Number.isFinite(x) ? `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(digits)}` : 'n/a')

/**
 * Whether the runs flattened: per arm and condition, the first, the second-to-last and the last
 * point of its learning curve (mean over seeds), and the change over the last stretch.
 */
const flatteningRows = (r: ClaimResult): string[] => {
  const byRun = new Map<string, CurvePoint[]>()
  for (const p of r.curves) byRun.set(`${p.arm}\u0000${p.condition}`, [...(byRun.get(`${p.arm}\u0000${p.condition}`) ?? []), p])
  const rows: string[] = []
  for (const ps of byRun.values()) {
    if (ps.length < 2) continue
    const [first, prev, last] = [ps[0]!, ps[ps.length - 2]!, ps[ps.length - 1]!]
    const key = Object.keys(last.series)[0]!
    const at = (p: CurvePoint) => `${p.series[key]!.mean.toFixed(1)} (${p.step})`
    rows.push(
      `| ${last.arm} | ${last.condition} | ${key} | ${at(first)} | ${at(prev)} | ${at(last)} | ${signed(last.series[key]!.mean - prev.series[key]!.mean, 1)} |`,
    )
  }
  return rows.length === 0
    ? []
    : [
        'Has each run flattened? Its learning curve’s first, second-to-last and last points (accuracy %, mean over seeds, at the step in brackets), and the change over the last stretch:',
        '',
        '| arm | condition | series | first | second-to-last | last | last change (points) |',
        '| --- | --- | --- | --- | --- | --- | --- |',
        ...rows,
        '',
      ]
}

/** The results as Markdown: the command, the setup, the design of every claim (before any number), then per claim its verdict and tables (what `docs/results.md` holds). */
export const resultsMarkdown = (results: readonly ClaimResult[], info: RunInfo): string => {
  const lines: string[] = [
    '# polyak experiments: measured results',
    '',
    `Produced by \`${info.command}\` (polyak ${VERSION}, tfjs ${info.tfjs}, Node ${process.version}, backend ${info.backend}), ` +
      `${info.budget} budget on ${info.dataset === 'fashion' ? 'Fashion-MNIST' : 'MNIST'} at ${info.resolution}×${info.resolution}, seeds ${info.seeds.join(', ')}, ` +
      `${info.workers} worker process(es), ${Math.round(info.seconds / 60)} min wall time. Every number is mean ± sample std over the seeds; accuracies in percent.`,
    '',
    '## Design (fixed before the runs)',
    '',
    ...results.flatMap((r) => [`- **${CLAIM_TEXT[r.claim].title}.** ${DESIGN[r.claim]}`]),
    '',
    'Every comparison is paired by seed (both arms share each seed’s initialisation and batches): Δ is the mean per-seed difference with its two-sided 95 % Student-t interval. ' +
      'A comparison is reproduced when the interval excludes 0 in the paper’s direction, contradicted when it excludes 0 the other way, and inconclusive otherwise, ' +
      'with the smallest effect the seeds could have detected ((t₀.₉₇₅ + t₀.₈)·s_d/√n: a 5 % two-sided test with 80 % power). ' +
      'The comparisons marked “decides” give the verdict; the others are reported alongside.',
    '',
  ]
  for (const r of results) {
    const t = CLAIM_TEXT[r.claim]
    lines.push(`## ${t.title}`, '', `Claim (${t.paper}): ${t.claim}.`, '', `**Verdict:** ${r.verdict}.`, '')
    if (r.comparisons.length > 0) {
      lines.push(
        '| comparison | condition | metric | n | Δ | 95 % interval | + / − | smallest detectable | verdict | decides |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      )
      for (const c of r.comparisons)
        lines.push(
          `| ${c.a} − ${c.b} | ${c.condition} | ${c.metric} | ${c.n} | ${signed(c.mean)} | [${signed(c.interval[0])}, ${signed(c.interval[1])}] | ${c.signs.positive} / ${c.signs.negative} | ${Number.isFinite(c.smallestDetectable) ? c.smallestDetectable.toFixed(2) : 'n/a'} | ${c.verdict} | ${c.decides ? 'yes' : 'no'} |`,
        )
      lines.push('')
    }
    if (r.timing !== undefined) {
      lines.push(
        `Step times (ms), interleaved pairs in one process, batch ${r.timing.options.batchSize}, ${r.timing.options.resolution}×${r.timing.options.resolution}, median of ${r.timing.options.repeats} steps per measurement:`,
        '',
        '| backend | full-encoder (per pair) | projector-only (per pair) | ratio projector-only ÷ full-encoder (median, range) |',
        '| --- | --- | --- | --- |',
        ...r.timing.backends.map(
          (b) =>
            `| ${b.backend} | ${b.pairs.map((p) => p.encoder.toFixed(1)).join(', ')} | ${b.pairs.map((p) => p.projector.toFixed(1)).join(', ')} | ${b.ratio.toFixed(3)} (${b.ratioRange[0].toFixed(3)}–${b.ratioRange[1].toFixed(3)}) |`,
        ),
        ...r.timing.skipped.map((b) => `| ${b.backend} | not measured: ${b.reason} | | |`),
        '',
      )
    }
    if (r.selection !== undefined && r.selection.table.length > 0) {
      const arms = [...new Set(r.selection.table.map((x) => x.arm))]
      lines.push(
        `Learning-rate selection at batch ${WA_REFERENCE_BATCH} on validation images (accuracy %, seed ${SELECTION_SEED}); the pick scales linearly to the other batches:`,
        '',
        `| arm | ${r.selection.grid.map((g) => `lr ${g}`).join(' | ')} | pick |`,
        `| --- | ${r.selection.grid.map(() => '---').join(' | ')} | --- |`,
        ...arms.map(
          (a) =>
            `| ${a} | ${r.selection!.grid.map((g) => r.selection!.table.find((x) => x.arm === a && x.lr === g)?.accuracy.toFixed(1) ?? 'n/a').join(' | ')} | ${r.selection!.picks.get(a) ?? 'none'} |`,
        ),
        '',
      )
    }
    const metrics = Object.keys(r.cells[0]?.metrics ?? {})
    lines.push(`| arm | condition | seeds | ${metrics.join(' | ')} |`, `| --- | --- | --- | ${metrics.map(() => '---').join(' | ')} |`)
    for (const c of r.cells)
      lines.push(
        `| ${c.arm} | ${c.condition} | ${c.seeds} | ${metrics.map((k) => (c.metrics[k]!.n > 1 ? `${c.metrics[k]!.mean.toFixed(1)} ± ${c.metrics[k]!.std.toFixed(1)}` : c.metrics[k]!.mean.toFixed(1))).join(' | ')} |`,
      )
    lines.push('', ...flatteningRows(r))
  }
  return lines.join('\n')
}

/** Writes the page, the tables, `results.json` and `results.md` into `dir`; returns the files. */
export const writeExperimentsReport = async (dir: string, results: readonly ClaimResult[], runs: readonly ClaimRun[], info: RunInfo): Promise<string[]> => {
  const sections: ReportSection[] = results.map((r) => ({
    title: CLAIM_TEXT[r.claim].title,
    text: `Claim (${CLAIM_TEXT[r.claim].paper}): ${CLAIM_TEXT[r.claim].claim}. Verdict: ${r.verdict}.`,
    charts: claimCharts(r, info.seeds.length, budgetOf(info.budget === 'full' ? 'full' : 'quick').wa.trainImages),
    table: tableRows(r),
  }))
  const tables = Object.fromEntries(results.map((r) => [r.claim, tableRows(r)])) as Record<ClaimName, ReturnType<typeof tableRows>>
  const { writeAtomic } = await import('../files.js')
  const { join } = await import('node:path')
  await writeAtomic(join(dir, 'results.md'), resultsMarkdown(results, info) + '\n')
  return writeReport(
    dir,
    'polyak experiments: the seed papers’ claims at small scale',
    {
      versions: { polyak: VERSION, tfjs: info.tfjs, node: process.version },
      date: new Date().toISOString(),
      ...info,
      verdicts: Object.fromEntries(results.map((r) => [r.claim, { outcome: r.outcome, reproduced: r.reproduced, verdict: r.verdict }])),
      claims: results,
      hyperparameters: runs.map((r) => ({ claim: r.claim, arm: r.arm, condition: r.condition, seed: r.seed, trainFile: r.file })),
    },
    tables,
    sections,
  )
}
