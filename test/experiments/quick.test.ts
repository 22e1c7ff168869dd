/**
 * `polyak experiments --budget quick`: tiny runs of every claim that check only that the pipeline
 * runs end to end and that the results page validates (the measured results come from the full
 * budget, in docs/results.md).
 */
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { polyak } from '../support/cli.js'

const CLAIMS = ['emanSemi', 'emanSelf', 'momentum2', 'projectorOnly', 'weightAlign']

describe('polyak experiments --budget quick', () => {
  it('runs every claim over 2 seeds on 2 workers and writes a page, tables and results.json that validate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'polyak-exp-'))
    const out = join(dir, 'report')
    const r = await polyak(['experiments', '--budget', 'quick', '--seeds', '2', '--workers', '2', '--out', out, '--json'], { timeoutMs: 600_000 })
    expect(r.code, r.stderr.slice(-2000)).toBe(0)
    const verdicts = (JSON.parse(r.stdout) as { verdicts: Array<{ claim: string; verdict: string; outcome: string; reproduced: boolean }> }).verdicts
    expect(verdicts.map((v) => v.claim)).toEqual(CLAIMS)
    for (const v of verdicts) {
      expect(v.verdict).toMatch(/^(reproduced|contradicted|inconclusive)/)
      expect(v.verdict.startsWith(v.outcome)).toBe(true)
    }
    // the paired comparisons, with their interval and sign count, in the page's markdown
    const md = readFileSync(join(out, 'results.md'), 'utf8')
    expect(md).toMatch(/\| EMAN teacher − BN teacher \| 4 \| teacher accuracy \(%\) \| 2 \| [+−]\d+\.\d\d \| \[/)
    // the design of every claim comes before any number
    expect(md.indexOf('## Design (fixed before the runs)')).toBeGreaterThan(0)
    expect(md.indexOf('## Design (fixed before the runs)')).toBeLessThan(md.indexOf('**Verdict:**'))
    // WeightAlign's learning-rate pick and the projector-only step times, measured first and kept for a resumed run
    expect(md).toMatch(/Learning-rate selection at batch 64 on validation images[^\n]*\n\n\| arm \| lr 0\.05 \| lr 0\.1 \| pick \|/)
    expect(md).toMatch(/\| wasm \| [\d., ]+ \| [\d., ]+ \| \d\.\d{3} \(/)
    expect(JSON.parse(readFileSync(join(out, 'step-timing.json'), 'utf8'))).toMatchObject({ options: { backends: ['wasm'] } })
    expect(md).toMatch(/Has each run flattened\?/)

    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Record<string, unknown> & {
      versions: Record<string, string>
      seeds: number[]
      hyperparameters: Array<{ claim: string; trainFile: { config: unknown } }>
    }
    expect(Object.keys(results.versions).sort()).toEqual(['node', 'polyak', 'tfjs'])
    expect(results.seeds).toEqual([0, 1])
    expect(results).toMatchObject({ budget: 'quick', dataset: 'mnist', backend: 'wasm' })
    expect(typeof results.date).toBe('string')
    expect(new Set(results.hyperparameters.map((h) => h.claim))).toEqual(new Set(CLAIMS))
    for (const h of results.hyperparameters) expect(h.trainFile.config).toBeDefined()

    for (const c of CLAIMS) {
      const header = readFileSync(join(out, `${c}.csv`), 'utf8').split('\n')[0]!
      expect(header.startsWith('arm,condition,seeds,')).toBe(true)
      for (const col of header.split(',').slice(3)) expect(col, `${c}.csv column '${col}' carries a unit`).toMatch(/\((%|ms)\)/)
    }
    const html = readFileSync(join(out, 'index.html'), 'utf8')
    for (const title of ['EMAN, semi-supervised', 'EMAN, self-supervised', 'Momentum² Teacher', 'Projector-only momentum', 'WeightAlign across batch sizes'])
      expect(html).toContain(title)
    expect((html.match(/<svg/g) ?? []).length).toBeGreaterThanOrEqual(7)
    expect(html).toContain('test accuracy (%)')
    expect(html).not.toMatch(/accuracy[^<]{0,30}, lo/) // no band title leaking into the axis

    // run again on the same folder: everything is resumed (no run retrained, the step times kept), the same verdicts come out,
    // and the wall time counts both invocations
    const timing = readFileSync(join(out, 'step-timing.json'), 'utf8')
    const again = await polyak(['experiments', '--budget', 'quick', '--seeds', '2', '--workers', '2', '--out', out, '--json'], { timeoutMs: 600_000 })
    expect(again.code, again.stderr.slice(-2000)).toBe(0)
    expect((JSON.parse(again.stdout) as { verdicts: unknown }).verdicts).toEqual(verdicts)
    expect(readFileSync(join(out, 'step-timing.json'), 'utf8')).toBe(timing)
    expect(again.stderr).not.toMatch(/step time, projector-only claim/)
    const wall = JSON.parse(readFileSync(join(out, 'wall-time.json'), 'utf8')) as { invocations: number[] }
    expect(wall.invocations).toHaveLength(2)
    expect(wall.invocations.every((t) => t > 0)).toBe(true)
  }, 600_000)
})
