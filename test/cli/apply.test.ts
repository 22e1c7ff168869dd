import { describe, expect, it } from 'vitest'
import { applyOps } from '../../src/node/cli/apply.js'
import { assertAllClose } from 'polyak/laws'
import { polyak } from '../support/cli.js'
import { type FixtureTensor, loadFixture, toChannelsLast } from '../support/fixtures.js'

/** Runs `polyak apply` with the spec on stdin. */
const apply = (spec: unknown, args: string[] = []) => polyak(['apply', ...args], { stdin: typeof spec === 'string' ? spec : JSON.stringify(spec) })

interface Out {
  outputs: Record<string, { shape: number[]; data: number[] }>
  params: Record<string, { data: number[] }>
  stats: Record<string, { data: number[] }>
}

const bn = loadFixture<{
  cases: Array<{
    momentum: number
    eps: number
    params: { gamma: FixtureTensor; beta: FixtureTensor }
    train: Array<{ x: FixtureTensor; y: FixtureTensor; mean: FixtureTensor; variance: FixtureTensor; count: FixtureTensor }>
  }>
}>('batchnorm.json')
const eman = loadFixture<{
  decay: number
  student: Record<string, FixtureTensor>
  teacherBefore: Record<string, FixtureTensor>
  teacherAfter: Record<string, FixtureTensor>
}>('eman.json')

describe('polyak apply', () => {
  it('writes an output of more than 1 MB through a pipe whole before it exits', async () => {
    const n = 100_000
    const spec = { op: 'batchNorm', inputs: { x: { shape: [n / 2, 2], data: Array.from({ length: n }, (_, i) => (i % 7) + 0.5) } } }
    const r = await apply(spec)
    expect(r.code).toBe(0)
    expect(r.stdout.length).toBeGreaterThan(1_000_000)
    const out = JSON.parse(r.stdout) as Out
    expect(out.outputs.y!.data).toHaveLength(n)
  })

  it('reproduces a PyTorch BatchNorm2d training step given as JSON', async () => {
    const c = bn.cases[0]!
    const step = c.train[0]!
    const spec = {
      op: 'batchNorm',
      config: { decay: 1 - c.momentum, epsilon: c.eps },
      mode: 'train',
      inputs: { x: toChannelsLast(step.x) },
      params: c.params,
    }
    for (const backend of ['reference', 'cpu']) {
      const { code, stdout, stderr } = await apply(spec, ['--backend', backend])
      expect(code, stderr).toBe(0)
      const out = JSON.parse(stdout) as Out
      const tol = backend === 'reference' ? { rtol: 1e-9, atol: 1e-9 } : { rtol: 1e-4, atol: 1e-5 }
      assertAllClose(out.outputs.y!.data, toChannelsLast(step.y).data, { ...tol, label: `${backend} y` })
      assertAllClose(out.stats.mean!.data, step.mean.data, { ...tol, label: `${backend} running mean` })
      assertAllClose(out.stats.variance!.data, step.variance.data, { ...tol, label: `${backend} running var` })
      expect(out.stats.count!.data).toEqual([1])
    }
  })

  it('reproduces an EMAN teacher update of a conv net state given as JSON', async () => {
    const split = (sd: Record<string, FixtureTensor>) => {
      const params: Record<string, Record<string, FixtureTensor>> = {}
      const stats: Record<string, Record<string, FixtureTensor>> = {}
      for (const [name, t] of Object.entries(sd)) {
        const [layer, leaf] = name.split('.') as [string, string]
        const slot = ['running_mean', 'running_var', 'num_batches_tracked'].includes(leaf) ? stats : params
        slot[layer] = { ...slot[layer], [leaf]: t }
      }
      return { params, stats }
    }
    const student = split(eman.student)
    const teacher = split(eman.teacherBefore)
    const want = split(eman.teacherAfter)
    const { code, stdout, stderr } = await apply({
      op: 'teacherUpdate',
      backend: 'reference',
      config: { decay: eman.decay, policy: 'eman' },
      inputs: { student },
      params: teacher.params,
      stats: teacher.stats,
    })
    expect(code, stderr).toBe(0)
    const out = JSON.parse(stdout) as {
      outputs: { report: { copy: number } }
      params: Record<string, Record<string, { data: number[]; dtype: string }>>
      stats: Record<string, Record<string, { data: number[]; dtype: string }>>
    }
    expect(out.outputs.report.copy).toBe(2)
    for (const slot of ['params', 'stats'] as const) {
      for (const [layer, leaves] of Object.entries(want[slot])) {
        for (const [leaf, t] of Object.entries(leaves)) {
          const got = out[slot][layer]![leaf]!
          if (t.dtype === 'int32') expect(got).toMatchObject({ dtype: 'int32', data: t.data })
          else assertAllClose(got.data, t.data, { rtol: 1e-9, atol: 1e-12, label: `${slot}.${layer}.${leaf}` })
        }
      }
    }
  })

  it('reaches every op', async () => {
    const x = { shape: [4, 2], data: [1, 2, 3, 4, 5, 6, 7, 9] }
    const w = { shape: [3, 2], data: [1, 2, 3, 4, 5, 7] }
    const specs: Record<string, unknown> = {
      batchNorm: { op: 'batchNorm', inputs: { x } },
      eman: { op: 'eman', inputs: { x } },
      momentumBatchNorm: { op: 'momentumBatchNorm', config: { totalSteps: 10 }, context: { step: 0, views: 2 }, inputs: { x } },
      groupNorm: { op: 'groupNorm', config: { groups: 2 }, inputs: { x } },
      layerNorm: { op: 'layerNorm', inputs: { x } },
      instanceNorm: { op: 'instanceNorm', inputs: { x: { shape: [1, 4, 2], data: x.data } } },
      weightStandardization: { op: 'weightStandardization', config: { layout: 'IO' }, params: { weight: w } },
      weightAlign: { op: 'weightAlign', config: { layout: 'IO', gain: 1 }, params: { weight: w } },
      ema: { op: 'ema', config: { decay: 0.9, debias: true }, inputs: { w: x } },
      teacherUpdate: { op: 'teacherUpdate', config: { decay: 0.5, policy: 'weightsOnly' }, inputs: { student: { params: { w: x } } }, params: { w: x } },
    }
    expect(Object.keys(specs).sort()).toEqual(applyOps().sort())
    for (const op of applyOps()) {
      const { code, stdout, stderr } = await apply(specs[op], ['--backend', 'reference'])
      expect(code, `${op}: ${stderr}`).toBe(0)
      expect(JSON.parse(stdout)).toMatchObject({ op, backend: 'reference' })
    }
    const ema = JSON.parse((await apply(specs.ema, ['--backend', 'reference'])).stdout) as { outputs: { w: { data: number[] } }; stats: { count: number } }
    expect(ema.outputs.w.data).toEqual(x.data.map((v) => expect.closeTo(v, 9) as unknown as number))
    expect(ema.stats.count).toBe(1)
  })

  it('names the field at fault in a bad spec and exits 2', async () => {
    const cases: Array<[unknown, RegExp]> = [
      ['{not json', /not valid JSON/],
      [{ op: 'batchNorn' }, /field 'op'.*one of 'batchNorm'/],
      [{ op: 'batchNorm', inputs: { x: { shape: [2, 2], data: [1, 2, 3] } } }, /field 'inputs\.x\.data': 3 values do not fill shape \[2,2\]/],
      [{ op: 'batchNorm', config: { momentum: 0.1 }, inputs: { x: { shape: [2, 1], data: [1, 2] } } }, /field 'config\.momentum'.*unknown field/],
      [{ op: 'batchNorm' }, /field 'inputs\.x'/],
      [{ op: 'teacherUpdate', config: { decay: 0.5 }, inputs: {} }, /field 'inputs\.student'/],
      [{ op: 'teacherUpdate', config: { decay: 0.5, policy: 'projectorOnly' }, inputs: { student: { params: {} } }, params: {} }, /field 'config\.prefixes'/],
      [{ op: 'ema', config: { decay: 0.9 }, inputs: { w: { shape: [1], data: ['a'] } } }, /field 'inputs\.w\.data\[0\]'/],
      [{ op: 'layerNorm', inputs: { x: { shape: [1], data: [1] } }, extra: 1 }, /field 'extra'.*unknown field/],
    ]
    for (const [spec, message] of cases) {
      const { code, stderr } = await apply(spec, ['--backend', 'reference'])
      expect(code, JSON.stringify(spec)).toBe(2)
      expect(stderr).toMatch(message)
    }
  })
})
