/** `polyak laws --subject MODULE.js`: a user's module checked without writing a test. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { SUBJECT_EXPORTS } from 'polyak/laws'
import { polyak } from '../support/cli.js'

// modules that import 'polyak' must live inside the package so that the name resolves to it
let dir: string
beforeAll(() => {
  mkdirSync('test-output', { recursive: true })
  dir = mkdtempSync(join('test-output', 'subjects-'))
})
const module = (name: string, source: string): string => {
  const file = join(dir, name)
  writeFileSync(file, source)
  return file
}

describe('polyak laws --subject', () => {
  it('names every export it recognises in its help', async () => {
    const r = await polyak(['laws', '--help'])
    expect(r.code).toBe(0)
    const help = r.stdout.replace(/\s+/g, ' ')
    expect(Object.keys(SUBJECT_EXPORTS).filter((k) => !new RegExp(`[(, ]${k}[,)]`).test(help))).toEqual([])
  })

  it('checks the subjects of examples/lawSubjects.mjs and prints the table', async () => {
    const r = await polyak(['laws', '--subject', 'examples/lawSubjects.mjs', '--runs', '20'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/batch\.independence\s+batchForward \(examples\/lawSubjects\.mjs\)\s+pass/)
    expect(r.stdout).toMatch(/ema\.closedForm\s+emaStep/)
    expect(r.stdout).toMatch(/groupNorm\.groupMoments\s+groupNorm/)
  })

  it('checks a model of your own, a tfjs-layers teacher and a schedule (examples/modelSubjects.mjs)', async () => {
    const r = await polyak(['laws', '--subject', 'examples/modelSubjects.mjs', '--runs', '10', '--backend', 'wasm'])
    expect(r.code, r.stderr).toBe(0)
    for (const law of ['model.shapes', 'model.reference', 'model.batchIndependence.eval', 'model.paramsReachOutput', 'model.teacherPolicy', 'model.noLeak'])
      expect(r.stdout).toMatch(new RegExp(`${law.replace(/\./g, '\\.')}\\s+model \\(examples/modelSubjects\\.mjs\\)\\s+pass`))
    expect(r.stdout).toMatch(/layers\.teacherPolicy\s+layersTeacher \(examples\/modelSubjects\.mjs\)\s+pass/)
    expect(r.stdout).toMatch(/schedule\.endpoints\s+schedule \(examples\/modelSubjects\.mjs\)\s+pass/)
  })

  it('exits 1 on a broken subject, with the seed to replay', async () => {
    const file = module(
      'skipsNorm.mjs',
      `import { teacherUpdate as polyakUpdate } from 'polyak'
export const teacherUpdate = (ops, student, teacher, decay, policy) =>
  polyakUpdate(ops, { decay, policy: (slot, path) => (path.includes('norm') ? 'keep' : policy(slot, path)) })(student)(teacher)[1]
`,
    )
    const r = await polyak(['laws', '--subject', file, '--runs', '100'])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/teacher\.perLeafPolicy\s+teacherUpdate .*FAIL/)
    expect(r.stdout).toMatch(/replay: polyak laws --backend cpu --subject .*skipsNorm\.mjs --runs 100 --seed -?\d+/)
  })

  it('says which shapes it accepts when a module exports nothing usable, or the wrong shape', async () => {
    const empty = await polyak(['laws', '--subject', module('empty.mjs', 'export const something = 1\n')])
    expect(empty.code).toBe(2)
    expect(empty.stderr).toMatch(/exports no subject polyak can check \(found: something\)/)
    expect(empty.stderr).toMatch(/batchNorm: \{ make\(ops\), decay, epsilon, runningVariance \}/)
    const wrong = await polyak(['laws', '--subject', module('wrong.mjs', 'export const batchNorm = 3\n')])
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toMatch(/the export 'batchNorm' is not \{ make\(ops\), decay, epsilon, runningVariance \}/)
    const missing = await polyak(['laws', '--subject', join(dir, 'missing.mjs')])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/cannot read --subject: '.*missing\.mjs': ENOENT, it does not exist/)
  })
})
