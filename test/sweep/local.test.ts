/**
 * `polyak sweep` on local worker processes: a small grid runs to one table; re-running skips the
 * finished jobs; bad grids and unreachable Redis exit 2 with nothing queued or written.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { decodeGrid } from '../../src/node/sweep/grid.js'
import { freePort } from '../support/redis.js'
import { polyak } from '../support/cli.js'

const base = {
  kind: 'supervised',
  backend: 'wasm',
  data: { trainImages: 400, testImages: 100 },
  config: { samples: 320, batchSize: 16, widths: [4, 8], evalLimit: 100 },
}

describe('sweep grids', () => {
  it('expand product and zip into validated jobs with stable ids', async () => {
    const g = await decodeGrid({
      base,
      product: { 'config.norm': ['batchNorm', 'groupNorm'] },
      zip: { 'config.batchSize': [8, 16, 32], 'config.lr': [0.001, 0.002, 0.004] },
    })
    if (g._tag === 'Left') throw g.left
    expect(g.right.jobs).toHaveLength(6)
    expect(g.right.fields).toEqual(['config.norm', 'config.batchSize', 'config.lr'])
    expect(g.right.jobs.map((j) => [j.params['config.norm'], j.params['config.batchSize'], j.params['config.lr']])).toContainEqual(['groupNorm', 16, 0.002])
    const again = await decodeGrid({
      base,
      product: { 'config.norm': ['batchNorm', 'groupNorm'] },
      zip: { 'config.batchSize': [8, 16, 32], 'config.lr': [0.001, 0.002, 0.004] },
    })
    if (again._tag === 'Left') throw again.left
    expect(again.right.jobs.map((j) => j.id)).toEqual(g.right.jobs.map((j) => j.id))
    expect(new Set(g.right.jobs.map((j) => j.id)).size).toBe(6)
  })

  const BAD: Array<[string, unknown, RegExp]> = [
    ['no base', { product: {} }, /field 'base'/],
    ['an empty list', { base, product: { 'config.seed': [] } }, /field 'product\.config\.seed'/],
    ['zipped lists of two lengths', { base, zip: { 'config.seed': [1, 2], 'config.lr': [0.1] } }, /zipped lists must have one length/],
    [
      'a field outside the train file',
      { base, product: { 'settings.seed': [1, 2] } },
      /product\.settings\.seed'.*starts with one of kind, backend, data, config/,
    ],
    ['a value the train file refuses', { base, product: { 'config.batchSize': [8, -1] } }, /job 1 .*config\.batchSize/],
    ['the same job twice', { base, product: { 'config.seed': [1, 1] } }, /runs the same train file as job 0/],
    ['a __proto__ path', { base, product: { '__proto__.x': [1] } }, /__proto__/],
    [
      'a grid of 100 000 jobs',
      { base, product: { 'config.seed': Array.from({ length: 1000 }, (_, i) => i), 'config.lr': Array.from({ length: 100 }, (_, i) => (i + 1) / 1000) } },
      /expands to 100000 jobs, more than 10000/,
    ],
  ]
  for (const [name, grid, message] of BAD) {
    it(`refuses ${name} with exit 2, naming the field, writing nothing`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'polyak-grid-'))
      writeFileSync(join(dir, 'grid.json'), JSON.stringify(grid))
      const r = await polyak(['sweep', 'grid.json', '--out', 'out'], { cwd: dir })
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toMatch(message)
      expect(readdirSync(dir)).toEqual(['grid.json'])
    })
  }

  it('refuses an unreachable Redis with exit 2 before queueing anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'polyak-grid-'))
    writeFileSync(join(dir, 'grid.json'), JSON.stringify({ base, product: { 'config.seed': [0, 1] } }))
    const port = await freePort() // nothing listens there
    const r = await polyak(['sweep', 'grid.json', '--redis', `redis://127.0.0.1:${port}`, '--out', 'out'], { cwd: dir })
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toMatch(new RegExp(`--redis: cannot reach Redis at redis://127\\.0\\.0\\.1:${port}`))
    const w = await polyak(['worker', '--redis', `redis://127.0.0.1:${port}`])
    expect(w.code).toBe(2)
    expect(w.stderr).toMatch(/cannot reach Redis/)
    expect(existsSync(join(dir, 'out', 'jobs'))).toBe(false)
  })
})

describe('polyak sweep on local workers', () => {
  it('runs a 4-job grid on 2 workers into one table, and a re-run skips every finished job', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'polyak-sweep-'))
    writeFileSync(join(dir, 'grid.json'), JSON.stringify({ name: 'tiny', base, product: { 'config.norm': ['batchNorm', 'groupNorm'], 'config.seed': [0, 1] } }))
    const r = await polyak(['sweep', 'grid.json', '--workers', '2', '--out', 'out', '--json'], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as { rows: Array<Record<string, unknown>>; failures: unknown[] }
    expect(out.failures).toEqual([])
    expect(out.rows).toHaveLength(4)
    for (const row of out.rows) expect(row['accuracy (%)']).toBeGreaterThanOrEqual(0)
    expect(r.stderr).toMatch(/4\/4 done, 0 running, 0 failed/)
    const csv = readFileSync(join(dir, 'out', 'results.csv'), 'utf8')
    expect(csv.split('\n')[0]).toBe('job,config.norm,config.seed,accuracy (%),seconds,worker')
    expect(existsSync(join(dir, 'out', 'index.html'))).toBe(true)
    const again = await polyak(['sweep', 'grid.json', '--workers', '2', '--out', 'out', '--json'], { cwd: dir })
    expect(again.code).toBe(0)
    expect((JSON.parse(again.stdout) as { rows: unknown[] }).rows).toEqual(out.rows)
    expect(again.stderr).toMatch(/4\/4 done, 0 running, 0 failed/)
    expect(again.stderr).not.toMatch(/3\/4|2\/4/) // nothing re-ran
  })
})
