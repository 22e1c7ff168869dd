/**
 * Long runs: the tensor count stays flat over thousands of training steps on wasm (no leak per
 * step), and the NaN guard stops a diverging run naming the step and the first non-finite leaf,
 * keeping the last good checkpoint.
 *
 * `POLYAK_SOAK_STEPS` sets the soak's length (default 5000).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { type ImageSet, NonFiniteError, SEMI_DEFAULTS, runSemiSupervised, runSupervised } from 'polyak'
import { unsafeUseBackend } from 'polyak/backends'
import { polyak } from '../support/cli.js'
import { tinyMnist, tinySemiFile } from '../support/data.js'

const STEPS = Number(process.env.POLYAK_SOAK_STEPS ?? 5000)

let train: ImageSet
let test: ImageSet
beforeAll(async () => {
  await unsafeUseBackend('wasm')
  ;({ train, test } = tinyMnist())
})

describe('soak', () => {
  it(`${STEPS} semi-supervised steps on wasm with a flat tensor count`, async () => {
    const counts: Array<[number, number]> = []
    const every = Math.max(1, Math.floor(STEPS / 10))
    const config = {
      ...SEMI_DEFAULTS,
      teacher: 'eman' as const,
      labelledFraction: 0.05,
      steps: STEPS,
      batchLabelled: 4,
      batchUnlabelled: 4,
      widths: [2, 4],
      evalEvery: every,
      evalLimit: 20,
    }
    const before = tf.memory().numTensors
    await runSemiSupervised(config, train, test, (step) => {
      if (step % every === 0 || step === 10) counts.push([step, tf.memory().numTensors])
    })
    const after = tf.memory().numTensors
    console.log(`[reliability] soak: ${STEPS} steps, tensors ${counts.map(([s, n]) => `${s}:${n}`).join(' ')}; before ${before}, after ${after}`)
    expect(new Set(counts.map(([, n]) => n)).size, 'the tensor count during the run').toBe(1)
    expect(after).toBe(before)
  }, 600_000)
})

describe('NaN guard', () => {
  it('stops a diverging supervised run with a NonFiniteError naming the step and the leaf, and frees its tensors', async () => {
    const before = tf.memory().numTensors
    const run = runSupervised(
      { norm: 'batchNorm', weightNorm: 'none', batchSize: 8, samples: 8 * 40, lr: 1e38, widths: [4, 8], seed: 0, evalLimit: 20 },
      train,
      test,
    )
    await expect(run).rejects.toBeInstanceOf(NonFiniteError)
    await expect(run).rejects.toThrow(/non-finite value at step \d+ in '(loss|student\/.+)'/)
    expect(tf.memory().numTensors).toBe(before)
  })

  it('warns once and goes on when asked to', async () => {
    const warnings: string[] = []
    const r = await runSupervised(
      { norm: 'batchNorm', weightNorm: 'none', batchSize: 8, samples: 8 * 40, lr: 1e38, widths: [4, 8], seed: 0, evalLimit: 20 },
      train,
      test,
      undefined,
      { onNonFinite: 'warn', onWarning: (m) => warnings.push(m) },
    )
    expect(r.steps).toBe(40)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/non-finite value at step \d+/)
  })

  it('polyak train with lr 1e6 exits 1 naming the step and leaf; the checkpoint left is the last good one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'polyak-nan-'))
    const cfg = join(dir, 'nan.json')
    const ckpt = join(dir, 'ckpt.json')
    writeFileSync(cfg, JSON.stringify(tinySemiFile({ steps: 40, evalEvery: 0, lr: 1e6 })))
    const r = await polyak(['train', cfg, '--checkpoint', ckpt, '--every', '1'])
    expect(r.code, r.stderr).toBe(1)
    const m = /non-finite value at step (\d+) in '([^']+)'/.exec(r.stderr)
    expect(m, r.stderr).not.toBeNull()
    const failed = Number(m![1])
    const saved = JSON.parse(readFileSync(ckpt, 'utf8')) as { step: number }
    expect(saved.step).toBe(failed - 1)

    const warned = await polyak(['train', cfg, '--checkpoint', join(dir, 'warn.json'), '--every', '1', '--on-nan', 'warn', '--json'])
    expect(warned.code, warned.stderr).toBe(0)
    expect(warned.stderr).toMatch(/warning: non-finite value at step \d+/)
    const kept = JSON.parse(readFileSync(join(dir, 'warn.json'), 'utf8')) as { step: number }
    expect(kept.step).toBeLessThan(40) // the non-finite states after it were never written
  })
})
