/**
 * The polyak playground: a page that uses polyak's browser entries like any app would. It picks a
 * backend (webgpu, wasm, cpu), runs a BN teacher against an EMAN teacher on an MNIST subset with live
 * curves, a WeightAlign against BatchNorm batch-size sweep, and the law catalogue, all in the page.
 *
 * `window.playground` exposes the same actions to scripts (the browser tests drive it).
 */
import * as tf from '@tensorflow/tfjs-core'
import { type ImageSet, type Leaf, type Ops, SEMI_DEFAULTS, fromIdx, runSemiSupervised, runSupervised } from 'polyak'
import { forceGpuKernels, getBackend, wasmPaths } from 'polyak/backends'
import { type CatalogueResult, runCatalogue } from 'polyak/laws'
import { type CheckValues, checks } from './checks.js'

// tfjs-wasm's .wasm files are served beside the bundle
wasmPaths(new URL('./tfjs-wasm/', document.baseURI).href)

const $ = <E extends HTMLElement>(id: string): E => {
  const e = document.getElementById(id)
  if (e === null) throw new Error(`playground: no element #${id}`)
  return e as E
}

// ---------------------------------------------------------------------------------------------
// backends

let ops: Ops<Leaf> | undefined
let backendName = ''

/** Activates `name`; returns its details (adapter, build, kernels) or the reason it cannot run. */
const setBackend = async (name: string): Promise<{ ok: boolean; details?: Readonly<Record<string, string>>; reason?: string }> => {
  const d = getBackend(name)
  if (d._tag === 'Left') return { ok: false, reason: d.left.message }
  const a = await d.right.probe()
  if (!a.available) {
    $('backend-info').textContent = `${name}: not available here: ${a.reason}`
    return { ok: false, reason: a.reason }
  }
  ops = await d.right.activate()
  if (name === 'webgpu') await forceGpuKernels()
  backendName = name
  $<HTMLSelectElement>('backend').value = name
  const details = await d.right.details()
  $('backend-info').textContent = `${name}: ${
    Object.entries(details)
      .map(([k, v]) => `${k}: ${v}`)
      .join('; ') || d.right.description
  }`
  return { ok: true, details }
}

const needOps = (): Ops<Leaf> => {
  if (ops === undefined) throw new Error('choose a backend first')
  return ops
}

/** The names of polyak's fused kernels registered with tfjs for the active backend. */
const registeredKernels = (): string[] =>
  tf
    .getKernelsForBackend(tf.getBackend())
    .map((k) => k.kernelName)
    .filter((n) => n.startsWith('Polyak'))
    .sort()

// ---------------------------------------------------------------------------------------------
// data: the MNIST subset generated at build time (IDX files, 14×14, uint8)

let data: Promise<{ train: ImageSet; test: ImageSet }> | undefined
const loadData = (): Promise<{ train: ImageSet; test: ImageSet }> =>
  (data ??= (async () => {
    const get = async (f: string): Promise<Uint8Array> => {
      const r = await fetch(new URL(`./data/${f}`, document.baseURI))
      if (!r.ok) throw new Error(`playground: data/${f}: HTTP ${r.status}`)
      return new Uint8Array(await r.arrayBuffer())
    }
    const [ti, tl, si, sl] = await Promise.all(
      ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 'test-images-idx3-ubyte', 'test-labels-idx1-ubyte'].map(get),
    )
    return {
      train: fromIdx(ti!, tl!, {}, { images: 'train-images', labels: 'train-labels' }),
      test: fromIdx(si!, sl!, {}, { images: 'test-images', labels: 'test-labels' }),
    }
  })())

// ---------------------------------------------------------------------------------------------
// a small SVG line chart

interface Series {
  readonly name: string
  readonly color: string
  readonly dash: boolean
  readonly points: Array<[number, number]>
}

const drawChart = (svg: SVGSVGElement, series: readonly Series[], opts: { xLabel: string; yLabel: string; xLog?: boolean; xMax?: number }): void => {
  const W = 460
  const H = 260
  const m = { l: 48, r: 150, t: 12, b: 40 }
  const all = series.flatMap((s) => s.points)
  const fx = (x: number): number => (opts.xLog === true ? Math.log2(x) : x)
  const xs = all.map(([x]) => fx(x))
  const x0 = Math.min(0, ...xs)
  const x1 = Math.max(fx(opts.xMax ?? 1), ...xs, x0 + 1)
  const px = (x: number): number => m.l + ((fx(x) - x0) / (x1 - x0)) * (W - m.l - m.r)
  const py = (y: number): number => H - m.b - (y / 100) * (H - m.t - m.b)
  const parts: string[] = [`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#bbb"/>`]
  for (const y of [0, 25, 50, 75, 100]) parts.push(`<text x="${m.l - 6}" y="${py(y) + 4}" text-anchor="end" font-size="11">${y}</text>`)
  const ticks = opts.xLog === true ? [1, 2, 4, 8, 16, 32, 64].filter((v) => fx(v) <= x1) : [0, 0.25, 0.5, 0.75, 1].map((f) => Math.round(x0 + f * (x1 - x0)))
  for (const x of ticks) parts.push(`<text x="${px(x)}" y="${H - m.b + 14}" text-anchor="middle" font-size="11">${x}</text>`)
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 6}" text-anchor="middle" font-size="12">${opts.xLabel}</text>`)
  parts.push(
    `<text x="12" y="${(m.t + H - m.b) / 2}" transform="rotate(-90 12 ${(m.t + H - m.b) / 2})" text-anchor="middle" font-size="12">${opts.yLabel}</text>`,
  )
  series.forEach((s, i) => {
    const d = s.points.map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2" ${s.dash ? 'stroke-dasharray="5 3"' : ''}/>`)
    for (const [x, y] of s.points) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`)
    const ly = m.t + 12 + i * 16
    parts.push(
      `<line x1="${W - m.r + 10}" y1="${ly - 4}" x2="${W - m.r + 30}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2" ${s.dash ? 'stroke-dasharray="5 3"' : ''}/>`,
    )
    parts.push(`<text x="${W - m.r + 34}" y="${ly}" font-size="11">${s.name}</text>`)
  })
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`)
  svg.innerHTML = parts.join('')
}

// ---------------------------------------------------------------------------------------------
// runs: one at a time, each with progress, steps/s and a stop button

let running: AbortController | undefined
const yieldToHost = (): Promise<void> => new Promise((r) => setTimeout(r, 0))

const startRun = (panel: string): AbortController => {
  if (running !== undefined) throw new Error('another run is in progress: stop it first')
  running = new AbortController()
  document.body.dataset.running = panel
  return running
}
const endRun = (): void => {
  running = undefined
  delete document.body.dataset.running
}
const stop = (): void => running?.abort()

const progress = (panel: string, done: number, total: number, text: string): void => {
  $<HTMLProgressElement>(`${panel}-progress`).value = total === 0 ? 0 : done / total
  $(`${panel}-status`).textContent = text
}

/** Options of the teacher comparison (FixMatch-style, 1 % labels). */
export interface TeacherRunOptions {
  readonly steps?: number
  readonly evalEvery?: number
  readonly seed?: number
}

/** What the teacher comparison returns: final accuracies (percent) per teacher, and steps/s. */
export interface TeacherRunResult {
  readonly backend: string
  readonly stopped: boolean
  readonly arms: Array<{ teacher: 'bn' | 'eman'; steps: number; student: number; teacher_: number; stepsPerSecond: number }>
}

const runTeacherComparison = async (o: TeacherRunOptions = {}): Promise<TeacherRunResult> => {
  needOps()
  const ctl = startRun('teacher')
  try {
    const { train, test } = await loadData()
    const steps = o.steps ?? 300
    const evalEvery = o.evalEvery ?? Math.max(1, Math.floor(steps / 8))
    const colors = { bn: '#d62728', eman: '#1f77b4' }
    const series: Series[] = []
    const arms: TeacherRunResult['arms'] = []
    for (const teacher of ['bn', 'eman'] as const) {
      if (ctl.signal.aborted) break
      const student: Series = { name: `${teacher.toUpperCase()} arm: student`, color: colors[teacher], dash: true, points: [] }
      const teach: Series = { name: `${teacher.toUpperCase()} arm: teacher`, color: colors[teacher], dash: false, points: [] }
      series.push(student, teach)
      const t0 = performance.now()
      let done = 0
      const config = {
        ...SEMI_DEFAULTS,
        teacher,
        labelledFraction: 0.01,
        steps,
        batchLabelled: 16,
        batchUnlabelled: 48,
        widths: [8, 16],
        seed: o.seed ?? 0,
        evalEvery,
        evalLimit: test.n,
      }
      const r = await runSemiSupervised(
        config,
        train,
        test,
        (step, metrics, point) => {
          done = step
          const rate = step / ((performance.now() - t0) / 1000)
          progress(
            'teacher',
            step,
            steps,
            `${teacher.toUpperCase()} teacher: step ${step}/${steps}, loss ${metrics.loss?.toFixed(3) ?? '?'}, ${rate.toFixed(1)} steps/s`,
          )
          if (point !== undefined) {
            student.points.push([point.step, 100 * point.student])
            teach.points.push([point.step, 100 * (point.teacher ?? point.student)])
            drawChart($<SVGSVGElement & HTMLElement>('teacher-chart'), series, { xLabel: 'step', yLabel: 'test accuracy (%)', xMax: steps })
          }
        },
        { signal: ctl.signal, yieldToHost },
      )
      const seconds = (performance.now() - t0) / 1000
      arms.push({ teacher, steps: done, student: 100 * r.final.student, teacher_: 100 * (r.final.teacher ?? r.final.student), stepsPerSecond: done / seconds })
    }
    const text = arms
      .map((a) => `${a.teacher.toUpperCase()} teacher ${a.teacher_.toFixed(1)} % (student ${a.student.toFixed(1)} %, ${a.stepsPerSecond.toFixed(1)} steps/s)`)
      .join('; ')
    progress('teacher', 1, 1, `${ctl.signal.aborted ? 'stopped' : 'done'} on ${backendName}: ${text}`)
    return { backend: backendName, stopped: ctl.signal.aborted, arms }
  } finally {
    endRun()
  }
}

/** Options of the mini batch-size sweep: a fixed number of steps per batch size. */
export interface SweepOptions {
  readonly batchSizes?: readonly number[]
  readonly steps?: number
  readonly seed?: number
}

const runSweep = async (
  o: SweepOptions = {},
): Promise<{ backend: string; stopped: boolean; points: Array<{ arm: string; batchSize: number; accuracy: number }> }> => {
  needOps()
  const ctl = startRun('sweep')
  try {
    const { train, test } = await loadData()
    const sizes = o.batchSizes ?? [1, 4, 16, 64]
    const steps = o.steps ?? 60
    const arms = [
      { name: 'BatchNorm', norm: 'batchNorm' as const, weightNorm: 'none' as const, color: '#d62728' },
      { name: 'WeightAlign + GroupNorm', norm: 'groupNorm' as const, weightNorm: 'weightAlign' as const, color: '#2ca02c' },
    ]
    const series: Series[] = arms.map((a) => ({ name: a.name, color: a.color, dash: false, points: [] }))
    const points: Array<{ arm: string; batchSize: number; accuracy: number }> = []
    const total = sizes.length * arms.length * steps
    let done = 0
    const t0 = performance.now()
    for (const batchSize of sizes) {
      for (const [i, a] of arms.entries()) {
        if (ctl.signal.aborted) break
        const r = await runSupervised(
          { norm: a.norm, weightNorm: a.weightNorm, batchSize, samples: steps * batchSize, lr: 1e-3, widths: [8, 16], seed: o.seed ?? 0, evalLimit: test.n },
          train,
          test,
          (step) => {
            const rate = (done + step) / ((performance.now() - t0) / 1000)
            progress('sweep', done + step, total, `${a.name}, batch ${batchSize}: step ${step}/${steps}, ${rate.toFixed(1)} steps/s`)
          },
          { signal: ctl.signal, yieldToHost },
        )
        done += steps
        points.push({ arm: a.name, batchSize, accuracy: 100 * r.accuracy })
        series[i]!.points.push([batchSize, 100 * r.accuracy])
        drawChart($<SVGSVGElement & HTMLElement>('sweep-chart'), series, {
          xLabel: 'batch size (log scale)',
          yLabel: 'test accuracy (%)',
          xLog: true,
          xMax: Math.max(...sizes),
        })
      }
    }
    progress('sweep', 1, 1, `${ctl.signal.aborted ? 'stopped' : 'done'} on ${backendName}: ${steps} steps per batch size`)
    return { backend: backendName, stopped: ctl.signal.aborted, points }
  } finally {
    endRun()
  }
}

const escapeHtml = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!)

const runLaws = async (
  runs = 10,
): Promise<{ backend: string; passed: boolean; results: Array<Pick<CatalogueResult, 'law' | 'subject' | 'expect' | 'passed' | 'ok' | 'seed'>> }> => {
  const o = needOps()
  const ctl = startRun('laws')
  try {
    const rows: string[] = []
    const table = $('laws-table')
    table.innerHTML = ''
    let n = 0
    const results = await runCatalogue(
      o,
      { numRuns: runs },
      (r) => {
        n += 1
        rows.push(
          `<tr class="${r.ok ? 'ok' : 'bad'}"><td>${escapeHtml(r.law)}</td><td>${escapeHtml(r.subject)}</td>` +
            `<td>${r.ok ? (r.expect === 'fail' ? 'fails, as it must' : 'pass') : r.expect === 'fail' ? 'PASSED but must fail' : 'FAIL'}</td><td>${r.seed}</td></tr>`,
        )
        table.innerHTML = `<tr><th>law</th><th>subject</th><th>result</th><th>replay seed</th></tr>${rows.join('')}`
        progress('laws', n, n, `${n} laws checked on ${backendName} (${runs} inputs each)`)
      },
      { signal: ctl.signal, yieldToHost },
    )
    const failed = results.filter((r) => !r.ok).length
    progress(
      'laws',
      1,
      1,
      `${ctl.signal.aborted ? 'stopped: ' : ''}${results.length - failed} of ${results.length} laws as expected on ${backendName} (${runs} inputs each)`,
    )
    return {
      backend: backendName,
      passed: failed === 0,
      results: results.map(({ law, subject, expect, passed, ok, seed }) => ({ law, subject, expect, passed, ok, seed })),
    }
  } finally {
    endRun()
  }
}

const runChecks = async (): Promise<Record<string, CheckValues>> => {
  const o = needOps()
  const out: Record<string, CheckValues> = {}
  for (const [name, check] of Object.entries(checks)) out[name] = await check(o)
  return out
}

// ---------------------------------------------------------------------------------------------
// wiring

const api = {
  setBackend,
  runChecks,
  runLaws,
  runTeacherComparison,
  runSweep,
  stop,
  registeredKernels,
  loadData: async () => {
    const d = await loadData()
    return { train: d.train.n, test: d.test.n }
  },
}
declare global {
  interface Window {
    playground: typeof api
  }
}
window.playground = api

const report = (e: unknown): void => {
  $('error').textContent = e instanceof Error ? e.message : String(e)
}
const button = (id: string, f: () => Promise<unknown>): void => {
  $(id).addEventListener('click', () => {
    $('error').textContent = ''
    f().catch(report)
  })
}
button('teacher-run', () => runTeacherComparison({ steps: Number($<HTMLInputElement>('teacher-steps').value) }))
button('sweep-run', () => runSweep({ steps: Number($<HTMLInputElement>('sweep-steps').value) }))
button('laws-run', () => runLaws(Number($<HTMLInputElement>('laws-runs').value)))
for (const id of ['teacher-stop', 'sweep-stop', 'laws-stop']) $(id).addEventListener('click', stop)
const chooser = $<HTMLSelectElement>('backend')
chooser.addEventListener('change', () => {
  if (running !== undefined) {
    report('stop the current run before switching backends')
    chooser.value = backendName
    return
  }
  setBackend(chooser.value).catch(report)
})

void (async () => {
  // the first backend that works, in the chooser's order (webgpu, wasm, cpu)
  for (const name of ['webgpu', 'wasm', 'cpu']) {
    const r = await setBackend(name)
    if (r.ok) {
      chooser.value = name
      break
    }
  }
  document.body.dataset.ready = 'true'
})().catch(report)
