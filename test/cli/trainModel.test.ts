/**
 * `polyak train` with a `model` field: a CIFAR-style ResNet trains end to end from a train file, as
 * a user would run it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { polyak } from '../support/cli.js'

describe('polyak train with a model field', () => {
  it('trains a CIFAR-style ResNet (GroupNorm + WeightAlign) from a train file and reports its accuracy', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'polyak-train-model-'))
    const file = join(dir, 'resnet.json')
    writeFileSync(
      file,
      JSON.stringify({
        kind: 'supervised',
        backend: 'wasm',
        data: { trainImages: 200, testImages: 40 },
        model: { kind: 'resnet', depth: 8, width: 4, norm: 'groupNorm', weightNorm: 'weightAlign' },
        config: { batchSize: 16, samples: 64, evalLimit: 40 },
      }),
    )
    const r = await polyak(['train', file, '--json'], { timeoutMs: 240_000 })
    expect(r.code, r.stderr.slice(-1500)).toBe(0)
    const out = JSON.parse(r.stdout) as { model: { kind: string; depth: number }; steps: number; accuracy: number }
    expect(out.model).toMatchObject({ kind: 'resnet', depth: 8 })
    expect(out.steps).toBe(4)
    expect(out.accuracy).toBeGreaterThanOrEqual(0)
    expect(out.accuracy).toBeLessThanOrEqual(1)
  }, 300_000)
})
