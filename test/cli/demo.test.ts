import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { polyak } from '../support/cli.js'
import { tinySemiFile } from '../support/data.js'

describe('polyak demo (tiny budget)', () => {
  it('prints the results table and writes the report folder (JSON, CSV, HTML with SVG plots)', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'polyak-demo-')), 'report')
    const { code, stdout, stderr } = await polyak(['demo', '--scale', '0.02', '--train-images', '500', '--test-images', '100', '--out', out])
    expect(code, stderr).toBe(0)
    expect(stderr).toMatch(/semi 1\.0% labels, eman teacher, seed 0 .*done in/)
    expect(stderr).toMatch(/sweep WeightAlign\+GroupNorm batch 1, seed 0 .*done in/)
    expect(stdout).toMatch(/Semi-supervised \(test accuracy %, student \/ teacher\):/)
    expect(stdout).toMatch(/^1\s+\d+\.\d\s+\d+\.\d$/m)
    for (const f of ['results.json', 'semi.csv', 'semi_curves.csv', 'sweep.csv', 'sweep_runs.csv', 'index.html']) expect(existsSync(join(out, f)), f).toBe(true)
    const html = readFileSync(join(out, 'index.html'), 'utf8')
    expect((html.match(/<svg/g) ?? []).length).toBe(2)
    expect(readFileSync(join(out, 'sweep.csv'), 'utf8').split('\n')[0]).toBe('normalizer,batchSize,seeds,accuracy,mean,std')
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { sweep: unknown[]; semi: unknown[] }
    expect(results.sweep).toHaveLength(14)
    expect(results.semi).toHaveLength(2)
  })

  it('rejects bad options', async () => {
    expect((await polyak(['demo', '--seeds', '0'])).code).toBe(2)
    expect((await polyak(['demo', '--backend', 'reference'])).stderr).toMatch(/choose a tfjs backend/)
  })
})

describe('polyak train', () => {
  it('validates the config file, naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'polyak-train-'))
    const bad = join(dir, 'bad.json')
    writeFileSync(bad, JSON.stringify({ kind: 'semiSupervised', config: { teacher: 'ema', steps: 0 } }))
    const r = await polyak(['train', bad])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/field 'config\.teacher': got "ema"; expected one of 'none', 'bn', 'eman'/)
    expect(r.stderr).toMatch(/field 'config\.steps': got 0; expected an integer ≥ 1/)
    writeFileSync(bad, JSON.stringify({ kind: 'semi' }))
    expect((await polyak(['train', bad])).stderr).toMatch(/field 'kind'/)
  })

  it('runs a semi-supervised config with checkpoints, and resumes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'polyak-train-'))
    const cfg = join(dir, 'semi.json')
    const ckpt = join(dir, 'ckpt.json')
    writeFileSync(cfg, JSON.stringify(tinySemiFile({ steps: 4, evalEvery: 2 })))
    const first = await polyak(['train', cfg, '--checkpoint', ckpt, '--every', '2', '--json'])
    expect(first.code, first.stderr).toBe(0)
    expect(JSON.parse(first.stdout)).toMatchObject({ kind: 'semiSupervised', backend: 'wasm' })
    expect((JSON.parse(readFileSync(ckpt, 'utf8')) as { step: number }).step).toBe(4)
    const again = await polyak(['train', cfg, '--checkpoint', ckpt, '--resume', '--json'])
    expect(again.code, again.stderr).toBe(0)
  })
})
