/**
 * (Imported from the sources, not the package: `apply`'s runner and the train-file decoder are not
 * package exports, and one registry must serve them all.)
 *
 * The registry is the one list of normalizers: a normalizer defined here, in the test, and
 * registered with one call is usable in `polyak apply`'s runner, in a model, in a train config and
 * in the law catalogue — and the catalogue holds it to the capabilities it declares.
 */
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import {
  Epsilon,
  type NormalizerDefinition,
  convNet,
  decodeConfig,
  normalizerDefinitions,
  registerNormalizer,
  runSupervised,
  tfOps,
  transition,
  unregisterNormalizer,
} from '../../src/index.js'
import { registryEntries } from '../../laws/index.js'
import { unsafeUseBackend } from '../../backends/index.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeSpec, runSpec } from '../../src/node/cli/apply.js'
import { decodeTrainFile } from '../../src/train/trainConfig.js'
import { tinyMnist } from '../support/data.js'

const rmsFields = { epsilon: Epsilon }

/** RMSNorm over the channels of each position: `y = γ·x/√(mean_c(x²) + ε)`; no statistics, batch-independent. */
const rmsNorm = (name: string, claims: { batchDependent: boolean; hasStats: boolean }): NormalizerDefinition<{ epsilon: number }> => ({
  kind: 'activation',
  name,
  summary: 'RMSNorm over the channels (defined in a test)',
  capabilities: claims,
  fields: rmsFields,
  decode: (config) => decodeConfig(`${name} config`, rmsFields, { epsilon: 1e-6 as Epsilon }, config),
  build: (ops, { epsilon }) => ({
    name,
    init: (channels) => ({ params: { gamma: ops.ones([channels]) }, stats: {} }),
    apply: (x) =>
      transition(ops, ({ params, stats }: { params: { gamma: typeof x }; stats: Record<string, never> }) => {
        const meanSquare = ops.mean(ops.square(x), [x.shape.length - 1], true)
        return [ops.mul(ops.mul(x, ops.rsqrt(ops.shift(meanSquare, epsilon))), params.gamma), { params, stats }]
      }),
  }),
})

const x = { shape: [2, 3], data: [1, -2, 2, 0.5, 0.5, -1] }
const rms = (row: number[], eps: number) => row.map((v) => v / Math.sqrt(row.reduce((s, u) => s + u * u, 0) / row.length + eps))

describe('a normalizer registered in the test', () => {
  beforeAll(async () => {
    await unsafeUseBackend('cpu')
    registerNormalizer(rmsNorm('rmsNorm', { batchDependent: false, hasStats: false }))
  })
  afterAll(() => {
    unregisterNormalizer('rmsNorm')
    unregisterNormalizer('rmsNormClaimingStats')
    unregisterNormalizer('rmsNormClaimingBatch')
  })

  it('is listed, and its name is refused a second time or when reserved', () => {
    expect(normalizerDefinitions('activation').map((d) => d.name)).toContain('rmsNorm')
    expect(() => registerNormalizer(rmsNorm('rmsNorm', { batchDependent: false, hasStats: false }))).toThrow(/registered already/)
    expect(() => registerNormalizer(rmsNorm('none', { batchDependent: false, hasStats: false }))).toThrow(/reserved/)
    expect(() => registerNormalizer(rmsNorm('rms norm', { batchDependent: false, hasStats: false }))).toThrow(/identifier/)
  })

  it('runs in apply with its config, and apply names a bad config field', async () => {
    const spec = decodeSpec({ op: 'rmsNorm', config: { epsilon: 1e-3 }, inputs: { x } })
    if (E.isLeft(spec)) throw spec.left
    const out = (await runSpec(spec.right, 'cpu')) as { outputs: { y: { data: number[] } } }
    const expected = [...rms(x.data.slice(0, 3), 1e-3), ...rms(x.data.slice(3), 1e-3)]
    out.outputs.y.data.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5))
    const bad = decodeSpec({ op: 'rmsNorm', config: { epsilon: -1 }, inputs: { x } })
    if (E.isLeft(bad)) throw bad.left
    await expect(runSpec(bad.right, 'cpu')).rejects.toThrow(/field 'config\.epsilon'/)
  })

  it('is the normalizer slot of a model, with no cross-sample dependency', () => {
    const model = convNet({
      inputShape: [6, 6, 1],
      widths: [4, 8],
      norm: { name: 'rmsNorm', config: { epsilon: 1e-5 } },
      weightNorm: 'weightAlign',
      classes: 3,
    })
    const { params, stats } = model.init(0)
    const stage0 = params.stage0 as { norm: { gamma: tf.Tensor }; conv: { gamma: tf.Tensor } }
    expect(stage0.norm.gamma.shape).toEqual([4])
    expect(stage0.conv.gamma.shape).toEqual([4])
    const batch = tf.randomNormal([3, 6, 6, 1], 0, 1, 'float32', 1)
    const [both, alone] = tf.tidy(() => [
      tf.slice(model.forward(params, stats, batch, 'train').logits!, [0, 0], [1, 3]).dataSync(),
      model.forward(params, stats, tf.slice(batch, [0, 0, 0, 0], [1, 6, 6, 1]), 'train').logits!.dataSync(),
    ])
    Array.from(both!).forEach((v, i) => expect(v).toBeCloseTo(alone![i]!, 5))
    tf.dispose([batch, params as never, stats as never])
  })

  it('is accepted by a train config, which checks its config, and trains', async () => {
    const file = {
      kind: 'supervised',
      backend: 'cpu',
      config: { norm: { name: 'rmsNorm', config: { epsilon: 1e-5 } }, batchSize: 16, samples: 64, widths: [4, 8], evalLimit: 40 },
    }
    const decoded = decodeTrainFile(file)
    if (E.isLeft(decoded)) throw decoded.left
    const bad = decodeTrainFile({ ...file, config: { ...file.config, norm: { name: 'rmsNorm', config: { epsilon: 0 } } } })
    expect(E.isLeft(bad) && bad.left.message).toMatch(/field 'config\.norm\.config\.epsilon'/)
    const unknown = decodeTrainFile({ ...file, config: { ...file.config, norm: 'rmsNrm' } })
    expect(E.isLeft(unknown) && unknown.left.message).toMatch(/field 'config\.norm'.*'rmsNorm'/)
    const { train, test } = tinyMnist()
    const before = tfOps.liveTensors()
    const result = await runSupervised(decoded.right.config as never, train, test)
    expect(result.steps).toBe(4)
    expect(Number.isFinite(result.finalLoss)).toBe(true)
    expect(result.accuracy).toBeGreaterThanOrEqual(0)
    expect(tfOps.liveTensors()).toBe(before)
  })

  it('every built-in activation normalizer is a train-config norm (Momentum BN and InstanceNorm included)', async () => {
    const { train, test } = tinyMnist()
    // every activation normalizer registered now (a new built-in joins without editing this test), and none
    for (const name of [...normalizerDefinitions('activation').map((d) => d.name), 'none']) {
      const decoded = decodeTrainFile({
        kind: 'supervised',
        config: { norm: name, weightNorm: 'weightStandardization', batchSize: 16, samples: 32, widths: [4], evalLimit: 20 },
      })
      if (E.isLeft(decoded)) throw decoded.left
      const result = await runSupervised(decoded.right.config as never, train, test)
      expect(Number.isFinite(result.finalLoss), name).toBe(true)
    }
  })

  it('joins the law catalogue, which holds it to the capabilities it declares', async () => {
    const ours = registryEntries().filter((e) => e.subject.startsWith('rmsNorm '))
    expect(ours.map((e) => e.suite).sort()).toEqual(['independence', 'registry', 'transition'])
    for (const e of ours) {
      const results = await e.run(tfOps, { numRuns: 10 })
      for (const r of results) expect(r.passed, `${r.law}: ${r.error ?? ''} ${r.counterexample ?? ''}`).toBe(e.expect === 'pass')
    }
    // the same normalizer claiming what it does not do: the claim's law fails
    registerNormalizer(rmsNorm('rmsNormClaimingStats', { batchDependent: false, hasStats: true }))
    registerNormalizer(rmsNorm('rmsNormClaimingBatch', { batchDependent: true, hasStats: false }))
    const lying = registryEntries().filter((e) => e.subject.startsWith('rmsNormClaiming') && e.suite !== 'transition')
    const outcomes = await Promise.all(
      lying.map(async (e) => ({ e, ok: (await e.run(tfOps, { numRuns: 10 })).every((r) => r.passed === (e.expect === 'pass')) })),
    )
    expect(
      outcomes
        .filter((o) => !o.ok)
        .map((o) => `${o.e.suite}: ${o.e.subject}`)
        .sort(),
    ).toEqual(['independence: rmsNormClaimingBatch (registered)', 'registry: rmsNormClaimingStats (registered)'])
  })
})
