import { describe, expect, it } from 'vitest'
import { webgpu } from 'polyak/backends'
import { requiredBackends } from '../support/backends.js'
import { polyak } from '../support/cli.js'

interface LawsJson {
  backend: string
  passed: boolean
  results: Array<{ law: string; subject: string; expect: 'pass' | 'fail'; outcome: 'pass' | 'fail'; ok: boolean; seed: number }>
}

const laws = (args: string[]) => polyak(['laws', ...args])

describe('polyak laws (command line)', () => {
  it('--backend webgpu --json passes the whole catalogue (train-mode BN failing independence, as it must)', async () => {
    const available = (await webgpu.probe()).available
    if (!available && requiredBackends().has('webgpu')) throw new Error('webgpu is required but unavailable')
    const backend = available ? 'webgpu' : 'reference'
    const { code, stdout, stderr } = await laws(['--backend', backend, '--runs', '15', '--json'])
    expect(code, stderr).toBe(0)
    const report = JSON.parse(stdout) as LawsJson
    expect(report.passed).toBe(true)
    expect(report.results.length).toBeGreaterThanOrEqual(40)
    expect(report.results.every((r) => r.ok)).toBe(true)
    const bnTrain = report.results.find((r) => r.subject === 'batchNorm (registered)' && r.law === 'batch.independence')!
    expect(bnTrain).toMatchObject({ law: 'batch.independence', expect: 'fail', outcome: 'fail', ok: true })
    expect(new Set(report.results.map((r) => r.law.split('.')[0]))).toEqual(
      new Set([
        'ema',
        'teacher',
        'batchNorm',
        'groupNorm',
        'batch',
        'momentumBn',
        'weightAlign',
        'weightStandardization',
        'transition',
        'backend',
        'normalizer',
        'shapes',
        'schedule',
        'model',
      ]),
    )
  })

  it('prints a table for people, and rejects bad options', async () => {
    const { code, stdout } = await laws(['--backend', 'reference', '--runs', '3', '--seed', '42'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/^law\s+subject\s+result/)
    expect(stdout).toMatch(/batch\.independence\s+batchNorm \(registered\)\s+fails, as it must/)
    expect(stdout).toMatch(/(\d+) of \1 laws as expected on 'reference'/)
    expect((await laws(['--runs', '0'])).code).toBe(2)
    expect((await laws(['--backend', 'gpu'])).stderr).toMatch(/unknown backend 'gpu'/)
  })
})
