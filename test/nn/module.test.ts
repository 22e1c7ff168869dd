/**
 * The module layer and the ResNet family: shapes on `shapeOps` equal the real pass, parameter counts
 * equal torchvision's published ones, the Float64 forward pass (`referenceOps`) is the oracle of
 * every backend, errors name the layer, and `withNorm` swaps every default slot.
 */
import * as tf from '@tensorflow/tfjs-core'
import {
  type Leaf,
  type Module,
  type Ops,
  conv,
  dense,
  flatten,
  globalAvgPool,
  maxPool,
  network,
  norm,
  tree,
  referenceOps,
  relu,
  residual,
  resnet,
  sequential,
  toleranceOf,
  FLOAT32_UNIT_ROUNDOFF,
} from 'polyak'
import { unsafeUseBackend } from 'polyak/backends'
import { beforeAll, describe, expect, it } from 'vitest'
import { describeEachBackend, itOn } from '../support/backends.js'

type TreeRecord<L> = { [key: string]: import('polyak').Tree<L> }
const paths = tree.paths
const total = (rows: readonly { params: number }[]) => rows.reduce((n, r) => n + r.params, 0)

describe('ResNet family on shapes', () => {
  // torchvision's resnet18/34/50 with 1000 classes (BatchNorm γ and β counted, running statistics not)
  const TORCHVISION: ReadonlyArray<readonly [number, number]> = [
    [18, 11_689_512],
    [34, 21_797_672],
    [50, 25_557_032],
  ]
  for (const [depth, count] of TORCHVISION) {
    it(`ImageNet ResNet-${depth} has torchvision's ${count} parameters and the shapes of a forward pass at 224×224`, () => {
      const model = resnet({ inputShape: [224, 224, 3], depth, style: 'imagenet', norm: 'batchNorm', classes: 1000 })
      expect(total(model.layers())).toBe(count)
      const t0 = performance.now()
      const report = model.checkShapes(8)
      const ms = performance.now() - t0
      console.log(`ResNet-${depth} [8, 224, 224, 3] on shapes: ${ms.toFixed(1)} ms`)
      expect(report.features).toEqual([8, depth === 50 ? 2048 : 512])
      expect(report.logits).toEqual([8, 1000])
      // every BN layer sees the real pass's shape: the stem at 112×112, the last stage at 7×7
      expect(report.layers[0]).toBe('stem/norm [8,112,112,64]')
      expect(report.layers[report.layers.length - 1]).toMatch(/^layer4\/\d+\/norm\d \[8,7,7,\d+\]$/)
    })
  }

  it('CIFAR-style depths are 6n + 2 (basic) and 9n + 2 (bottleneck); others are refused with the ones that work', () => {
    for (const depth of [8, 14, 20, 32, 56]) {
      const m = resnet({ inputShape: [32, 32, 3], depth, norm: 'batchNorm', classes: 10 })
      const blocks = m.layers().filter((r) => /^layer\d\/\d+\/conv1$/.test(r.path)).length
      expect(blocks).toBe(((depth - 2) / 6) * 3)
      expect(m.checkShapes(2).features).toEqual([2, 64])
    }
    expect(resnet({ inputShape: [32, 32, 3], depth: 20, block: 'bottleneck', norm: 'batchNorm' }).checkShapes(2).features).toEqual([2, 256])
    expect(() => resnet({ inputShape: [32, 32, 3], depth: 21, norm: 'batchNorm' })).toThrow(/resnet: depth.*6n \+ 2 \(8, 14, 20, 32, 56/)
    expect(() => resnet({ inputShape: [32, 32, 3], depth: 20, style: 'imagenet', norm: 'batchNorm' })).toThrow(/18, 34, 50, 101 and 152/)
  })

  it('the width multiplier scales every stage: CIFAR ResNet-20 at width 32 has 4× the conv weights of width 16', () => {
    const convs = (w: number) =>
      total(
        resnet({ inputShape: [32, 32, 3], depth: 20, width: w, norm: 'none' })
          .layers()
          .filter((r) => r.kind.startsWith('conv') && r.path !== 'stem/conv'),
      )
    expect(convs(32)).toBe(4 * convs(16))
  })

  it('every registered activation normalizer, and WeightAlign or weight standardisation in front of one, fits a ResNet', () => {
    for (const n of ['batchNorm', 'eman', 'momentumBatchNorm', 'groupNorm', 'layerNorm', 'instanceNorm']) {
      for (const w of ['none', 'weightAlign', 'weightStandardization']) {
        const m = resnet({ inputShape: [16, 16, 3], depth: 8, width: 8, norm: n, weightNorm: w, totalSteps: 10, classes: 10 })
        expect(m.checkShapes(4).logits).toEqual([4, 10])
      }
    }
  })

  it('errors name the layer: a group count that does not divide a block, a shortcut of the wrong shape, a head on images', () => {
    expect(() => resnet({ inputShape: [16, 16, 3], depth: 8, width: 6, norm: { name: 'groupNorm', config: { groups: 4 } } }).checkShapes(2)).toThrow(
      /^stem\/norm: /,
    )
    const bad = residual({ conv: conv(8, { stride: 2 }) })
    expect(() => network({ inputShape: [8, 8, 4], backbone: sequential({ block: bad, pool: globalAvgPool() }), norm: 'batchNorm' })).toThrow(
      /^block: .*residual.*the main branch gives \[4,4,8\] but the identity shortcut gives \[8,8,4\]/,
    )
    expect(() => network({ inputShape: [8, 8, 4], backbone: sequential({ fc: dense(3) }), norm: 'batchNorm' })).toThrow(/^fc: .*dense.*expects features \[F\]/)
    expect(() => network({ inputShape: [8, 8, 4], backbone: sequential({ c: conv(3) }), norm: 'batchNorm' })).toThrow(/must end in features \[F\]/)
    // BatchNorm on one value per channel, deep in the network, found on shapes before any memory
    const deep = resnet({ inputShape: [4, 4, 3], depth: 8, width: 4, norm: 'batchNorm' })
    expect(() => deep.checkShapes(1)).toThrow(/^layer3\/0\/norm1: .*more than 1 value per channel/)
  })

  it('withNorm swaps every default slot and keeps the tree: the EMAN teacher of a BatchNorm student', () => {
    const student = resnet({ inputShape: [16, 16, 3], depth: 8, width: 4, norm: 'batchNorm', projector: { hidden: 8, out: 4 }, classes: 10 })
    const teacher = student.withNorm('eman')
    expect(teacher.config.norm).toBe('eman')
    expect(
      teacher
        .layers()
        .filter((r) => r.kind.startsWith('norm'))
        .every((r) => r.kind === 'norm eman'),
    ).toBe(true)
    expect(teacher.layers().map((r) => [r.path, r.params])).toEqual(student.layers().map((r) => [r.path, r.params]))
  })
})

describe('ResNet on tfjs (cpu)', () => {
  beforeAll(async () => {
    await unsafeUseBackend('cpu')
  })

  it('shapeOps predicts the real pass, and the trees have the documented paths', () => {
    const model = resnet({ inputShape: [12, 12, 3], depth: 50, style: 'imagenet', width: 4, norm: 'batchNorm', classes: 5, projector: { hidden: 6, out: 3 } })
    const { params, stats } = model.init(0)
    const out = tf.tidy(() => model.forward(params, stats, tf.ones([2, 12, 12, 3]), 'train') as never) as ReturnType<typeof model.forward>
    const predicted = model.checkShapes(2)
    expect(predicted.features).toEqual(out.features.shape)
    expect(predicted.logits).toEqual(out.logits!.shape)
    expect(predicted.projection).toEqual(out.projection!.shape)
    const p = paths(params)
    expect(p).toContain('stem/conv/weight')
    expect(p).toContain('layer1/0/shortcut/conv/weight')
    expect(p).toContain('layer4/2/norm3/gamma')
    expect(p).toContain('projector/fc2/weight')
    expect(paths(out.stats)).toEqual(paths(stats))
    tf.dispose([params as never, stats as never, out as never])
  })
})

/** A user's own block, written in test code against the module vocabulary: conv → norm → relu, twice, with a max-pool between. */
const userBackbone: Module = sequential({
  a: sequential({ conv: conv(4), norm: norm(), relu: relu() }),
  pool: maxPool(2),
  b: residual({ conv: conv(4), norm: norm() }, { after: relu() }),
  flat: flatten(),
})

describeEachBackend(
  'the Float64 forward pass is the oracle of a whole network',
  (b) => {
    const run = itOn(b)
    /** Copies a tfjs tree into the reference interpreter. */
    const toReference = async (ops: Ops<Leaf>, t: TreeRecord<Leaf>): Promise<TreeRecord<Leaf>> => {
      const out: TreeRecord<Leaf> = {}
      for (const [k, v] of Object.entries(t)) {
        out[k] =
          v instanceof tf.Tensor
            ? referenceOps.tensor(await ops.read(v), v.shape, v.dtype as 'float32' | 'int32')
            : await toReference(ops, v as TreeRecord<Leaf>)
      }
      return out
    }
    // inputs large enough that train-mode BatchNorm sees ≥ 16 values per channel in the last stage
    // (BN over 4 values amplifies rounding by 1/σ of nearly equal numbers: ill-conditioned, not wrong)
    const models = [
      ['CIFAR ResNet-8', resnet({ inputShape: [8, 8, 3], depth: 8, width: 4, norm: 'batchNorm', classes: 3, projector: { hidden: 6, out: 3 } })],
      [
        'ImageNet ResNet-50 (width 4) with WeightAlign',
        resnet({ inputShape: [64, 64, 3], depth: 50, style: 'imagenet', width: 4, norm: 'batchNorm', weightNorm: 'weightAlign', classes: 3 }),
      ],
      ['CIFAR ResNet-8 with GroupNorm', resnet({ inputShape: [8, 8, 3], depth: 8, width: 4, norm: { name: 'groupNorm', config: { groups: 2 } }, classes: 3 })],
      ['a backbone of the user', network({ inputShape: [6, 6, 2], backbone: userBackbone, norm: 'layerNorm', classes: 3 })],
    ] as const
    for (const [name, model] of models) {
      for (const mode of ['train', 'eval'] as const) {
        run(`${name}, ${mode} mode: tfOps within the tolerance table of referenceOps`, async (ops) => {
          const { params, stats } = model.init(1)
          const [h, w, c] = model.inputShape
          const x = tf.randomUniform([4, h, w, c], -1, 1, 'float32', 2)
          const out = tf.tidy(() => model.forward(params, stats, x, mode) as never) as ReturnType<typeof model.forward>
          const rp = await toReference(ops, params as never)
          const rs = await toReference(ops, stats as never)
          const rx = referenceOps.tensor(await x.data(), x.shape)
          const ref = model.on(referenceOps).forward(rp as never, rs as never, rx, mode)
          const { rtol, atol } = toleranceOf(ops.name)
          // a whole network: each layer's rounding error is amplified by the layers after it, so the
          // bound grows with the number of layers and their largest accumulation (k·k·C_in)
          const layers = model.layers().length
          const bound = (want: number) => layers * (atol + (rtol + 64 * FLOAT32_UNIT_ROUNDOFF) * (Math.abs(want) + 1))
          for (const head of ['features', 'logits'] as const) {
            const got = await out[head]!.data()
            const want = referenceOps.readSync(ref[head]!)
            let worst = 0
            want.forEach((v, i) => {
              const err = Math.abs(got[i]! - v)
              worst = Math.max(worst, err / bound(v))
              if (!(err <= bound(v))) throw new Error(`${head}[${i}]: got ${got[i]}, want ${v} (|Δ| = ${err}, bound ${bound(v)})`)
            })
            expect(worst).toBeLessThanOrEqual(1)
          }
          tf.dispose([params as never, stats as never, out as never, x])
        })
      }
    }
  },
  ['cpu', 'wasm', 'webgpu', 'tensorflow'],
)

it('a user backbone runs on shapes, and its layer table names every child by path', () => {
  const m = network({ inputShape: [6, 6, 2], backbone: userBackbone, norm: 'batchNorm', classes: 3 })
  expect(m.checkShapes(5).logits).toEqual([5, 3])
  expect(m.layers().map((r) => r.path)).toEqual(['a/conv', 'a/norm', 'a/relu', 'pool', 'b/conv', 'b/norm', 'b/after', 'flat', 'classifier'])
})
