/**
 * The demo's report folder: every result as JSON, each table as CSV, and an HTML page with SVG
 * plots rendered by Vega-Lite (server-side, no browser): accuracy against step for student and
 * teacher, and accuracy against batch size.
 *
 * @module report/report
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type * as vl from 'vega-lite'
import { writeAtomic } from '../files.js'
import { importOptional } from '../optional.js'

/** What to run when the plotting packages are missing. */
export const VEGA_HINT = 'the report plots need the npm packages vega and vega-lite: npm install vega vega-lite'

/** Rows of a table: objects with the same keys. */
export type Rows = ReadonlyArray<Record<string, string | number | undefined>>

/** Rows as CSV (RFC 4180 quoting). */
export const toCsv = (rows: Rows): string => {
  if (rows.length === 0) return ''
  const keys = Object.keys(rows[0]!)
  const cell = (v: unknown): string => {
    const s = v === undefined ? '' : String(v)
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
  }
  return [keys.join(','), ...rows.map((r) => keys.map((k) => cell(r[k])).join(','))].join('\n') + '\n'
}

/** Renders a Vega-Lite spec to an SVG string. */
export const renderSvg = async (spec: vl.TopLevelSpec): Promise<string> => {
  const vega = (await importOptional('vega', VEGA_HINT)) as typeof import('vega')
  const vegaLite = (await importOptional('vega-lite', VEGA_HINT)) as typeof import('vega-lite')
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' })
  const svg = await view.toSVG()
  view.finalize()
  return svg
}

/** A line chart of `y` against `x`, one line per `series`, with optional error band (`lo`/`hi`). */
export const lineChart = (
  title: string,
  rows: Rows,
  x: string,
  y: string,
  series: string,
  options: { xLog?: boolean; yTitle?: string; xTitle?: string } = {},
): vl.TopLevelSpec => ({
  $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
  title,
  width: 420,
  height: 260,
  data: { values: rows as Array<Record<string, unknown>> },
  layer: [
    {
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: x, type: 'quantitative', title: options.xTitle ?? x, ...(options.xLog ? { scale: { type: 'log', base: 2 } } : {}) },
        y: { field: y, type: 'quantitative', title: options.yTitle ?? y, scale: { zero: false } },
        color: { field: series, type: 'nominal', title: series, legend: { labelLimit: 0 } },
      },
    },
    ...(rows.some((r) => r.lo !== undefined)
      ? [
          {
            mark: { type: 'errorband' as const, opacity: 0.2 },
            encoding: {
              x: { field: x, type: 'quantitative' as const, ...(options.xLog ? { scale: { type: 'log' as const, base: 2 } } : {}) },
              // the band's own title would otherwise join the axis title ("test accuracy, lo")
              y: { field: 'lo', type: 'quantitative' as const, title: options.yTitle ?? y },
              y2: { field: 'hi' },
              color: { field: series, type: 'nominal' as const, title: series, legend: { labelLimit: 0 } },
            },
          },
        ]
      : []),
  ],
})

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** One section of the HTML page: a heading, a paragraph, SVG plots and a table. */
export interface ReportSection {
  readonly title: string
  readonly text: string
  readonly charts: readonly vl.TopLevelSpec[]
  readonly table?: Rows
}

/** Writes `results.json`, one CSV per table and `index.html` into `dir`; returns the file paths. */
export const writeReport = async (
  dir: string,
  title: string,
  results: unknown,
  tables: Record<string, Rows>,
  sections: readonly ReportSection[],
): Promise<string[]> => {
  await mkdir(dir, { recursive: true })
  const files: string[] = []
  const put = async (name: string, content: string) => {
    const p = join(dir, name)
    await writeAtomic(p, content)
    files.push(p)
  }
  await put('results.json', JSON.stringify(results, null, 2) + '\n')
  for (const [name, rows] of Object.entries(tables)) await put(`${name}.csv`, toCsv(rows))
  const body: string[] = []
  for (const s of sections) {
    body.push(`<section><h2>${escapeHtml(s.title)}</h2><p>${escapeHtml(s.text)}</p>`)
    for (const c of s.charts) body.push(`<figure>${await renderSvg(c)}</figure>`)
    if (s.table !== undefined && s.table.length > 0) {
      const keys = Object.keys(s.table[0]!)
      body.push(
        `<table><thead><tr>${keys.map((k) => `<th>${escapeHtml(k)}</th>`).join('')}</tr></thead><tbody>` +
          s.table.map((r) => `<tr>${keys.map((k) => `<td>${escapeHtml(String(r[k] ?? ''))}</td>`).join('')}</tr>`).join('') +
          '</tbody></table>',
      )
    }
    body.push('</section>')
  }
  await put(
    'index.html',
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
      '<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}' +
      'table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}' +
      'th{background:#f4f4f4}figure{display:inline-block;margin:0.5em}</style></head><body>' +
      `<h1>${escapeHtml(title)}</h1>${body.join('\n')}</body></html>\n`,
  )
  return files
}
