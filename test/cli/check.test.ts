/**
 * The shape interpreter in use: `model.checkShapes` predicts the real forward pass, `polyak check`
 * runs a train config or an apply spec on shapes and names the layer at fault, and `polyak train`
 * refuses a config that does not fit before it loads any data.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import { type ConvNetConfig, convNet } from 'polyak'
import { unsafeUseBackend } from 'polyak/backends'
import { beforeAll, describe, expect, it } from 'vitest'
import { polyak } from '../support/cli.js'

describe('model.checkShapes', () => {
  beforeAll(async () => {
    await unsafeUseBackend('cpu')
  })

  const configs: ConvNetConfig[] = [
    { inputShape: [14, 14, 1], widths: [4, 8], norm: 'batchNorm', weightNorm: 'none', classes: 10 },
    { inputShape: [9, 7, 2], widths: [3, 6, 6], norm: { name: 'groupNorm', config: { groups: 3 } }, weightNorm: 'weightAlign', classes: 5 },
    {
      inputShape: [5, 5, 1],
      widths: [4],
      norm: 'momentumBatchNorm',
      weightNorm: 'weightStandardization',
      totalSteps: 5,
      projector: { hidden: 6, out: 3, norm: 'layerNorm' },
      predictor: { hidden: 5, out: 3, norm: 'instanceNorm' },
    },
    { inputShape: [3, 3, 1], widths: [2, 2, 2], norm: 'none', weightNorm: 'none', classes: 2 },
  ]
  for (const config of configs) {
    it(`predicts the real forward pass: ${JSON.stringify(config.norm)} on ${JSON.stringify(config.inputShape)}, widths ${JSON.stringify(config.widths)}`, () => {
      const model = convNet(config)
      const predicted = model.checkShapes(3)
      const { params, stats } = model.init(0)
      const out = tf.tidy(() => model.forward(params, stats, tf.zeros([3, ...config.inputShape]), 'train', { step: 0 }) as never) as ReturnType<
        typeof model.forward
      >
      const real = { features: out.features.shape, logits: out.logits?.shape, projection: out.projection?.shape, prediction: out.prediction?.shape }
      tf.dispose(out as never)
      tf.dispose([params as never, stats as never])
      expect(predicted.features).toEqual(real.features)
      expect(predicted.logits).toEqual(real.logits)
      expect(predicted.projection).toEqual(real.projection)
      expect(predicted.prediction).toEqual(real.prediction)
      expect(predicted.layers.length).toBe((config.norm === 'none' ? 0 : config.widths.length) + (config.projector ? 2 : 0))
    })
  }

  it('raises what the real pass raises, naming the layer', () => {
    const model = convNet({ inputShape: [4, 4, 1], widths: [2, 2, 2], norm: 'batchNorm', weightNorm: 'none', classes: 2 })
    expect(() => model.checkShapes(1)).toThrow(/^stage2\/norm: .*more than 1 value per channel/)
    const { params, stats } = model.init(0)
    expect(() => tf.tidy(() => model.forward(params, stats, tf.zeros([1, 4, 4, 1]), 'train') as never)).toThrow(
      /^stage2\/norm: .*more than 1 value per channel/,
    )
    tf.dispose([params as never, stats as never])
    expect(() =>
      convNet({ inputShape: [4, 4, 1], widths: [6], norm: { name: 'groupNorm', config: { groups: 4 } }, weightNorm: 'none' }).checkShapes(2),
    ).toThrow(/^stage0\/norm: .*4 groups do not divide 6 channels/)
  })
})

describe('polyak check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'polyak-check-'))
  const file = (name: string, value: unknown) => {
    const path = join(dir, name)
    writeFileSync(path, JSON.stringify(value))
    return path
  }

  it('passes a config that fits and lists every forward pass', async () => {
    const { code, stdout } = await polyak(['check', file('semi.json', { kind: 'semiSupervised', config: { widths: [8, 16] } })])
    expect(code).toBe(0)
    expect(stdout).toMatch(/semiSupervised config: shapes fit/)
    expect(stdout).toMatch(/student .*batch 128, train -> features \[128, 16\], logits \[128, 10\]/)
    const json = await polyak(['check', '--json', file('self.json', { kind: 'selfSupervised', config: { method: 'byol-m2', batchSize: 4 } })])
    expect(json.code).toBe(0)
    const report = JSON.parse(json.stdout) as { passes: Array<{ role: string; batch: number }> }
    expect(report.passes.find((p) => p.role.startsWith('momentum'))?.batch).toBe(8)
  })

  it('names the layer of a config that does not fit, and exits 2', async () => {
    const oneValue = await polyak(['check', file('bn.json', { kind: 'supervised', config: { batchSize: 1, widths: [4, 4, 4, 4] } })])
    expect(oneValue.code).toBe(2)
    expect(oneValue.stderr).toMatch(/stage3\/norm: .*more than 1 value per channel/)
    const groups = await polyak([
      'check',
      file('gn.json', { kind: 'supervised', config: { norm: { name: 'groupNorm', config: { groups: 3 } }, widths: [6, 8] } }),
    ])
    expect(groups.code).toBe(2)
    expect(groups.stderr).toMatch(/stage1\/norm: .*3 groups do not divide 8 channels/)
  })

  it('checks an apply spec on shapes, and apply refuses the same spec before computing', async () => {
    const good = { op: 'groupNorm', config: { groups: 2 }, inputs: { x: { shape: [2, 4], data: [1, 2, 3, 4, 5, 6, 7, 8] } } }
    const ok = await polyak(['check', '--json', file('good.json', good)])
    expect(ok.code).toBe(0)
    expect(JSON.parse(ok.stdout)).toMatchObject({ op: 'groupNorm', backend: 'shapes', outputs: { y: { shape: [2, 4], dtype: 'float32' } } })
    const bad = { ...good, params: { gamma: { shape: [3], data: [1, 1, 1] }, beta: { shape: [3], data: [0, 0, 0] } } }
    const checked = await polyak(['check', file('bad.json', bad)])
    expect(checked.code).toBe(2)
    expect(checked.stderr).toMatch(/x \[2,4\] has 4 channels .* parameters are for 3 channels/)
    const applied = await polyak(['apply', file('bad2.json', bad)])
    expect(applied.code).toBe(2)
    expect(applied.stderr).toBe(checked.stderr.replace('polyak check', 'polyak apply'))
  })

  it("prints the layer table of a model spec, ResNet-50 at 224×224 with torchvision's parameter count", async () => {
    const spec = file('r50.json', { kind: 'resnet', depth: 50, style: 'imagenet' })
    const { code, stdout } = await polyak(['check', spec, '--input', '224,224,3', '--batch', '8', '--classes', '1000'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/^stem\/conv\s+conv 7×7\/2 64\s+\[8, 112, 112, 64\]\s+9,408$/m)
    expect(stdout).toMatch(/^layer4\/2\/conv3\s+conv 1×1 2048\s+\[8, 7, 7, 2048\]/m)
    expect(stdout).toMatch(/resnet on \[8, 224, 224, 3\]: output \[8, 1000\], 25,557,032 parameters, 158 layers/)
    const json = await polyak(['check', '--json', file('r20.json', { kind: 'resnet', depth: 20, norm: 'groupNorm' }), '--batch', '2'])
    expect(json.code).toBe(0)
    const report = JSON.parse(json.stdout) as { output: number[]; layers: Array<{ path: string; kind: string }> }
    expect(report.output).toEqual([2, 64])
    expect(report.layers.find((l) => l.path === 'layer3/2/norm2')?.kind).toBe('norm groupNorm')
  })

  it('names the field of a bad model spec and the layer of one that does not fit, and exits 2', async () => {
    const depth = await polyak(['check', file('d.json', { kind: 'resnet', depth: 19 })])
    expect(depth.code).toBe(2)
    expect(depth.stderr).toMatch(/depth.*6n \+ 2/)
    const groups = await polyak(['check', file('g.json', { kind: 'resnet', depth: 8, width: 6, norm: { name: 'groupNorm', config: { groups: 4 } } })])
    expect(groups.code).toBe(2)
    expect(groups.stderr).toMatch(/stem\/norm: .*4 groups do not divide 6 channels/)
    const input = await polyak(['check', file('i.json', { kind: 'resnet', depth: 8 }), '--input', '32,32'])
    expect(input.code).toBe(2)
    expect(input.stderr).toMatch(/--input must be H,W,C/)
  })

  it('polyak train refuses a config that does not fit before loading data', async () => {
    const { code, stderr } = await polyak([
      'train',
      file('train.json', { kind: 'supervised', backend: 'cpu', data: { trainImages: 100, testImages: 10 }, config: { batchSize: 1, widths: [4, 4, 4, 4] } }),
    ])
    expect(code).toBe(2)
    expect(stderr).toMatch(/stage3\/norm: .*more than 1 value per channel/)
    expect(stderr).not.toMatch(/supervised batchNorm/) // no progress bar: no step ran
  })
})
