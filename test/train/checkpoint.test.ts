import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, expect } from 'vitest'
import type { ImageSet } from 'polyak'
import { checkpointFile, loadMnist } from 'polyak/node'
import { SEMI_DEFAULTS, runSemiSupervised } from '../../src/train/semiSupervised.js'
import { TINY_SEMI } from '../support/data.js'
import { describeEachBackend, itOn } from '../support/backends.js'

let train: ImageSet
let test: ImageSet
beforeAll(() => {
  train = loadMnist('train', { limit: 400, factor: 2 })
  test = loadMnist('test', { limit: 40, factor: 2 })
})

const config = { ...SEMI_DEFAULTS, ...TINY_SEMI }

describeEachBackend(
  'checkpoints',
  (b) => {
    const it = itOn(b)
    it('an interrupted run resumed from its checkpoint ends exactly where an uninterrupted run ends', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'polyak-ckpt-'))
      const straight = join(dir, 'straight.json')
      const resumed = join(dir, 'resumed.json')
      const a = await runSemiSupervised(config, train, test, undefined, { checkpoint: { store: checkpointFile(straight), every: 100 } })
      await runSemiSupervised(config, train, test, undefined, { checkpoint: { store: checkpointFile(resumed), every: 100 }, stopAfter: 3 })
      expect((JSON.parse(readFileSync(resumed, 'utf8')) as { step: number }).step).toBe(3)
      const c = await runSemiSupervised(config, train, test, undefined, {
        checkpoint: { store: checkpointFile(resumed), every: 100 },
        resumeFrom: checkpointFile(resumed),
      })
      const left = JSON.parse(readFileSync(straight, 'utf8')) as Record<string, unknown>
      const right = JSON.parse(readFileSync(resumed, 'utf8')) as Record<string, unknown>
      expect(right.step).toBe(6)
      expect(right.student).toEqual(left.student)
      expect(right.teacher).toEqual(left.teacher)
      expect(right.opt).toEqual(left.opt)
      expect(c.final).toEqual(a.final)
    })

    it('refuses a checkpoint of another config, another model, or a corrupt one, naming what differs', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'polyak-ckpt-'))
      const file = join(dir, 'c.json')
      await runSemiSupervised(config, train, test, undefined, { checkpoint: { store: checkpointFile(file), every: 100 }, stopAfter: 1 })
      await expect(runSemiSupervised({ ...config, lr: 0.1 }, train, test, undefined, { resumeFrom: checkpointFile(file) })).rejects.toThrow(
        /different config \(field 'config\.lr': 0\.05 vs 0\.1\)/,
      )
      const json = JSON.parse(readFileSync(file, 'utf8')) as { student: { params: Record<string, { shape: number[] }> } }
      json.student.params['stage0/conv/weight']!.shape = [3, 3, 1, 5]
      writeFileSync(file, JSON.stringify(json))
      await expect(runSemiSupervised(config, train, test, undefined, { resumeFrom: checkpointFile(file) })).rejects.toThrow(/content hash mismatch/)
      writeFileSync(file, '{"format":"polyak-checkpoint","version":2,')
      await expect(runSemiSupervised(config, train, test, undefined, { resumeFrom: checkpointFile(file) })).rejects.toThrow(/not valid JSON/)
    })
  },
  ['wasm'],
)
