/**
 * PyTorch parity: every normalizer and the EMAN update against golden numbers computed by PyTorch
 * (float64) from float32 inputs, on every backend. Fixtures: test/fixtures, generator:
 * scripts/fixtures/generate.py.
 */
import { expect } from 'vitest'
import {
  type BatchNormStats,
  type Leaf,
  WS_REFERENCE_PYTORCH,
  WS_TIMM,
  unsafeEmanUpdate,
  fromTorchMomentum,
  unsafeBatchNorm,
  unsafeEman,
  unsafeGroupNorm,
  unsafeMomentumBatchNorm,
  unsafeWeightAlign,
  unsafeWeightStandardization,
} from 'polyak'
import { assertAllClose } from 'polyak/laws'
import { describeEachBackend, itOn } from '../support/backends.js'
import { type FixtureTensor, loadFixture, parityTolerance, tensorOf, toChannelsLast } from '../support/fixtures.js'

interface BnFixture {
  cases: Array<{
    kind: string
    momentum: number
    eps: number
    params: { gamma: FixtureTensor; beta: FixtureTensor }
    train: Array<{ x: FixtureTensor; y: FixtureTensor; mean: FixtureTensor; variance: FixtureTensor; count: FixtureTensor }>
    eval: { x: FixtureTensor; y: FixtureTensor }
  }>
}

interface EmanFixture {
  decay: number
  student: Record<string, FixtureTensor>
  teacherBefore: Record<string, FixtureTensor>
  teacherAfter: Record<string, FixtureTensor>
  teacherBn1Eval: { x: FixtureTensor; y: FixtureTensor }
}

interface MbnFixture {
  cases: Array<{
    kind: string
    totalSteps: number
    referenceDoubleBessel: boolean
    params: { gamma: FixtureTensor; beta: FixtureTensor }
    views: Array<{ x1: FixtureTensor; x2: FixtureTensor }>
    steps: Array<{ alpha: number; y1: FixtureTensor; y2: FixtureTensor; mean: FixtureTensor; variance: FixtureTensor }>
  }>
}

interface WeightsFixture {
  cases: Array<{
    layout: 'OIHW' | 'OI'
    weight: FixtureTensor
    timmStdConv: FixtureTensor
    wsReferencePytorch: FixtureTensor
    weightAlign: { gamma: FixtureTensor; gain: number; eps: number; output: FixtureTensor }
  }>
}

interface GnFixture {
  cases: Array<{ groups: number; x: FixtureTensor; gamma: FixtureTensor; beta: FixtureTensor; y: FixtureTensor }>
}

const bn = loadFixture<BnFixture>('batchnorm.json')
const emanFx = loadFixture<EmanFixture>('eman.json')
const mbn = loadFixture<MbnFixture>('momentum_bn.json')
const weights = loadFixture<WeightsFixture>('weights.json')
const gn = loadFixture<GnFixture>('groupnorm.json')

/** PyTorch state_dict name → polyak tree path (slot/layer/leaf). */
const pathOf = (name: string): { slot: 'params' | 'stats'; layer: string; leaf: string } => {
  const [layer, leaf] = name.split('.') as [string, string]
  const map: Record<string, ['params' | 'stats', string]> = {
    weight: ['params', layer.startsWith('bn') ? 'gamma' : 'weight'],
    bias: ['params', layer.startsWith('bn') ? 'beta' : 'bias'],
    running_mean: ['stats', 'mean'],
    running_var: ['stats', 'variance'],
    num_batches_tracked: ['stats', 'count'],
  }
  const [slot, ours] = map[leaf]!
  return { slot, layer, leaf: ours }
}

describeEachBackend('PyTorch parity', (b) => {
  const it = itOn(b)
  const tol = () => parityTolerance(b.descriptor.tolerance, b.descriptor.name === 'reference')
  const close = async (ops: { read: (t: Leaf) => Promise<ArrayLike<number>> }, got: Leaf, want: FixtureTensor, label: string) => {
    expect(got.shape, `${label} shape`).toEqual(want.shape)
    assertAllClose(await ops.read(got), want.data, { ...tol(), label })
  }

  for (const c of bn.cases) {
    it(`batchNorm ${c.kind}: three train steps (outputs, running mean/var, count) then eval, as torch.nn.BatchNorm`, async (ops) => {
      const norm = unsafeBatchNorm(ops, { decay: fromTorchMomentum(c.momentum), epsilon: c.eps })
      let s = { params: { gamma: tensorOf(ops, c.params.gamma), beta: tensorOf(ops, c.params.beta) }, stats: norm.init(c.params.gamma.shape[0]!).stats }
      for (const [k, step] of c.train.entries()) {
        const [y, next] = norm.apply(tensorOf(ops, toChannelsLast(step.x)), 'train')(s)
        await close(ops, y, toChannelsLast(step.y), `step ${k} y`)
        await close(ops, next.stats.mean, step.mean, `step ${k} running mean`)
        await close(ops, next.stats.variance, step.variance, `step ${k} running var`)
        expect(Array.from(await ops.read(next.stats.count))).toEqual(step.count.data)
        s = next
      }
      const [y, after] = norm.apply(tensorOf(ops, toChannelsLast(c.eval.x)), 'eval')(s)
      await close(ops, y, toChannelsLast(c.eval.y), 'eval y')
      expect(Array.from(await ops.read(after.stats.mean))).toEqual(Array.from(await ops.read(s.stats.mean)))
    })
  }

  it('EMAN update of a conv net state (weights, γ/β, running stats averaged; num_batches_tracked copied), then the teacher BN in eval', async (ops) => {
    const tree = (sd: Record<string, FixtureTensor>) => {
      const params: Record<string, Record<string, Leaf>> = {}
      const stats: Record<string, Record<string, Leaf>> = {}
      for (const [name, t] of Object.entries(sd)) {
        const p = pathOf(name)
        const slot = p.slot === 'params' ? params : stats
        slot[p.layer] = { ...slot[p.layer], [p.leaf]: tensorOf(ops, t) }
      }
      return { params, stats }
    }
    const student = tree(emanFx.student)
    const teacher0 = tree(emanFx.teacherBefore)
    const [report, teacher1] = unsafeEmanUpdate(ops, { decay: emanFx.decay })(student)(teacher0)
    expect(report).toMatchObject({ decay: emanFx.decay, copy: 2, keep: 0 })
    for (const [name, want] of Object.entries(emanFx.teacherAfter)) {
      const p = pathOf(name)
      const got = (teacher1[p.slot] as Record<string, Record<string, Leaf>>)[p.layer]![p.leaf]!
      if (want.dtype === 'int32') {
        expect(got.dtype).toBe('int32')
        expect(Array.from(await ops.read(got)), name).toEqual(want.data)
      } else await close(ops, got, want, name)
    }
    const teacherBn = unsafeEman(ops)
    const bn1 = {
      params: teacher1.params.bn1 as { gamma: Leaf; beta: Leaf },
      stats: teacher1.stats.bn1 as unknown as BatchNormStats<Leaf>,
    }
    const [y, same] = teacherBn.apply(tensorOf(ops, toChannelsLast(emanFx.teacherBn1Eval.x)), 'train')(bn1)
    await close(ops, y, toChannelsLast(emanFx.teacherBn1Eval.y), 'teacher bn1 (eval-mode BN with EMA stats, even in train mode)')
    expect(Array.from(await ops.read(same.stats.mean))).toEqual(Array.from(await ops.read(bn1.stats.mean)))
  })

  for (const c of mbn.cases) {
    it(`momentumBatchNorm ${c.kind} (${c.referenceDoubleBessel ? 'reference double Bessel' : 'single Bessel'}): ${c.steps.length} two-view steps`, async (ops) => {
      const norm = unsafeMomentumBatchNorm(ops, { totalSteps: c.totalSteps, referenceDoubleBessel: c.referenceDoubleBessel })
      let s = { params: { gamma: tensorOf(ops, c.params.gamma), beta: tensorOf(ops, c.params.beta) }, stats: norm.init(c.params.gamma.shape[0]!).stats }
      for (const [k, step] of c.steps.entries()) {
        expect(norm.alpha(k)).toBeCloseTo(step.alpha, 12)
        const x1 = toChannelsLast(c.views[k]!.x1)
        const x2 = toChannelsLast(c.views[k]!.x2)
        const both = ops.concat([tensorOf(ops, x1), tensorOf(ops, x2)], 0)
        const [y, next] = norm.apply(both, 'train', { step: k, views: 2 })(s)
        const n = x1.shape[0]!
        const rest = x1.shape.slice(1)
        await close(ops, ops.slice(y, [0, ...rest.map(() => 0)], [n, ...rest]), toChannelsLast(step.y1), `step ${k} y1`)
        await close(ops, ops.slice(y, [n, ...rest.map(() => 0)], [n, ...rest]), toChannelsLast(step.y2), `step ${k} y2`)
        await close(ops, next.stats.mean, step.mean, `step ${k} running mean`)
        await close(ops, next.stats.variance, step.variance, `step ${k} running var`)
        s = next
      }
    })
  }

  for (const [i, c] of weights.cases.entries()) {
    it(`weight standardisation and WeightAlign, case ${i} (${c.layout} ${c.weight.shape.join('x')})`, async (ops) => {
      const w = tensorOf(ops, c.weight)
      const timm = unsafeWeightStandardization(ops, { ...WS_TIMM, layout: c.layout })
      await close(ops, timm.transform({ weight: w }), c.timmStdConv, 'timm StdConv2d')
      const ref = unsafeWeightStandardization(ops, { ...WS_REFERENCE_PYTORCH, layout: c.layout })
      await close(ops, ref.transform({ weight: w }), c.wsReferencePytorch, 'WS reference (PyTorch snippet)')
      const wa = unsafeWeightAlign(ops, { layout: c.layout, gain: c.weightAlign.gain, epsilon: c.weightAlign.eps })
      await close(ops, wa.transform({ weight: w, gamma: tensorOf(ops, c.weightAlign.gamma) }), c.weightAlign.output, 'WeightAlign')
    })
  }

  for (const c of gn.cases) {
    it(`groupNorm with ${c.groups} group(s), as F.group_norm`, async (ops) => {
      const norm = unsafeGroupNorm(ops, { groups: c.groups })
      const s = { params: { gamma: tensorOf(ops, c.gamma), beta: tensorOf(ops, c.beta) }, stats: {} }
      const [y] = norm.apply(tensorOf(ops, toChannelsLast(c.x)), 'train')(s)
      await close(ops, y, toChannelsLast(c.y), 'y')
    })
  }
})
