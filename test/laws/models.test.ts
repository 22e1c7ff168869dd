/**
 * Whole-model and schedule laws: polyak's models and schedules pass them, with no false positive
 * over 20 seeds, and the classic failures between layers are caught — a shortcut that bypasses its
 * normalizer, a teacher that skips one block's statistics, eval mode that still uses batch
 * statistics deep inside, a forward pass that leaks — as are schedules with the wrong direction,
 * endpoint, step count or past-horizon behaviour.
 */
import {
  type Built,
  type Env,
  type Leaf,
  type Module,
  type Shape,
  conv,
  globalAvgPool,
  network,
  norm,
  registerNormalizer,
  relu,
  resnet,
  sequential,
  unregisterNormalizer,
  unsafeTeacherUpdate,
} from 'polyak'
import { unsafeUseBackend } from 'polyak/backends'
import {
  type ModelSubject,
  type ScheduleSubject,
  type TeacherUpdateSubject,
  catalogue,
  drawnConfigEntries,
  registryEntries,
  modelBatchIndependence,
  modelLaws,
  modelNoLeak,
  modelParamsReachOutput,
  modelTeacherPolicy,
  polyakSchedules,
  runEntries,
  runLaws,
  scheduleLaws,
} from 'polyak/laws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tfOps } from '../../src/core/tfOps.js'
import { batchNormDefinition } from '../../src/norm/batchNorm.js'
import type { Normalizer } from '../../src/norm/normalizer.js'

beforeAll(async () => {
  await unsafeUseBackend('wasm')
})

const failing = async (subject: string, value: unknown, laws: readonly unknown[], runs = 20) => {
  const results = await runLaws(subject, value as never, laws as never, tfOps as never, { numRuns: runs })
  return results.filter((r) => !r.passed)
}

describe('whole-model laws catch the failures between layers', () => {
  const small = () => resnet({ inputShape: [8, 8, 3], depth: 8, width: 4, norm: 'batchNorm', classes: 3 })

  it('a shortcut whose normalizer is built but bypassed: its parameters reach no output', async () => {
    /** A block of the user's with a projection shortcut whose norm is initialised but never applied. */
    const bypassing: Module = {
      kind: 'bypassing block',
      build: <T extends Leaf>(env: Env<T>, inShape: Shape): Built<T> => {
        const main = sequential({ conv: conv(6, { stride: 2 }), norm: norm() }).build(env, inShape)
        const sc = conv(6, { kernel: 1, stride: 2 }).build(env, inShape)
        const scNorm = norm().build(env, sc.outShape)
        return {
          outShape: main.outShape,
          rows: [...main.rows, ...sc.rows, ...scNorm.rows],
          init: (r) => {
            const m = main.init(r)
            return {
              params: { ...m.params, shortcut: { conv: sc.init(r).params, norm: scNorm.init(r).params } },
              stats: { ...m.stats, shortcut: { norm: scNorm.init(r).stats } },
            }
          },
          apply: (p, s, x, mode, ctx) => {
            const [y, ms] = main.apply(p, s, x, mode, ctx)
            const shortcut = (p.shortcut as Record<string, Record<string, T>>).conv!
            // the bug: the shortcut's conv runs, its normalizer does not
            const [z] = sc.apply(shortcut, {}, x, mode, ctx)
            return [env.ops.add(y, z), { ...ms, shortcut: s.shortcut as never }]
          },
        }
      },
    }
    const model = network({
      inputShape: [6, 6, 2],
      backbone: sequential({ block: bypassing, relu: relu(), pool: globalAvgPool() }),
      norm: 'batchNorm',
      classes: 3,
    })
    const fails = await failing('bypassing shortcut', { model }, [modelParamsReachOutput])
    expect(fails).toHaveLength(1)
    expect(fails[0]!.error).toMatch(/no gradient reaches block\/shortcut\/norm\/gamma, block\/shortcut\/norm\/beta/)
  })

  it('a teacher update that skips the statistics of one block', async () => {
    const skipping: TeacherUpdateSubject = (ops, student, teacher, decay, policy) =>
      unsafeTeacherUpdate(ops, { decay, policy: (slot, path) => (slot === 'stats' && path.startsWith('layer2/') ? 'keep' : policy(slot, path)) })(student)(
        teacher,
      )[1]
    const fails = await failing('skips layer2 stats', { model: small(), teacherUpdate: skipping }, [modelTeacherPolicy])
    expect(fails).toHaveLength(1)
    expect(fails[0]!.error).toMatch(/stats 'layer2\/.*should be (ema|copy)/)
  })

  describe('eval mode that still uses batch statistics deep inside the network', () => {
    beforeAll(() => {
      // BatchNorm whose eval mode is its train mode: a normalizer with a bug, registered from test code
      registerNormalizer({
        ...batchNormDefinition,
        name: 'evalUsesBatchStats',
        build: (ops: never, settings: never) => {
          const bn = batchNormDefinition.build(ops, settings) as Normalizer<Leaf, unknown, unknown>
          return { ...bn, name: 'evalUsesBatchStats', apply: (x: Leaf, _mode: unknown, ctx: never) => bn.apply(x, 'train', ctx) }
        },
      } as never)
    })
    afterAll(() => {
      unregisterNormalizer('evalUsesBatchStats')
    })
    it('is caught by eval-mode batch independence, in one slot of layer 3', async () => {
      const backbone = sequential({
        a: sequential({ conv: conv(4), norm: norm(), relu: relu() }),
        b: sequential({ conv: conv(4, { stride: 2 }), norm: norm('evalUsesBatchStats'), relu: relu() }),
        pool: globalAvgPool(),
      })
      const model = network({ inputShape: [6, 6, 2], backbone, norm: 'batchNorm', classes: 3 })
      const fails = await failing('eval uses batch stats', { model }, [modelBatchIndependence('eval')])
      expect(fails).toHaveLength(1)
      expect(fails[0]!.error).toMatch(/of the first sample/)
      // the same network with BatchNorm there passes
      const fine = network({
        inputShape: [6, 6, 2],
        backbone: sequential({ a: sequential({ conv: conv(4), norm: norm() }), pool: globalAvgPool() }),
        norm: 'batchNorm',
      })
      expect(await failing('fine', { model: fine }, [modelBatchIndependence('eval')])).toEqual([])
    })
  })

  it('a forward pass that leaks a tensor out of its scope', async () => {
    const leaky: Module = {
      kind: 'leaky',
      build: <T extends Leaf>(env: Env<T>, inShape: Shape): Built<T> => ({
        outShape: inShape,
        rows: [{ path: '', kind: 'leaky', inShape, outShape: inShape }],
        init: () => ({ params: {}, stats: {} }),
        apply: (_p, _s, x) => {
          env.ops.keep(env.ops.scale(x, 2))
          return [x, {}]
        },
      }),
    }
    const model = network({ inputShape: [4, 4, 1], backbone: sequential({ c: conv(2), leak: leaky, pool: globalAvgPool() }), norm: 'none', classes: 2 })
    const fails = await failing('leaky', { model }, [modelNoLeak], 3)
    expect(fails[0]?.error).toMatch(/left \d+ tensors/)
  })
})

describe('schedule laws catch broken twins', () => {
  const cosine = polyakSchedules[0]!.subject
  const alpha = polyakSchedules[1]!.subject
  const twins: ReadonlyArray<readonly [string, ScheduleSubject, RegExp]> = [
    ['the cosine in the wrong direction (1 → τ₀)', { ...cosine, at: (k) => 1 - cosine.at(k) + 0.99 }, /schedule\.(endpoints|monotone)/],
    ['an endpoint short of 1', { ...cosine, at: (k) => Math.min(0.999, cosine.at(k)) }, /schedule\.endpoints/],
    ['a 1-based step count claimed 0-based', { ...cosine, at: (k) => cosine.at(k - 1) }, /schedule\.endpoints/],
    [
      'a cosine that swings back past the horizon (the reference code)',
      { ...cosine, at: (k) => 1 - (0.01 * (Math.cos((Math.PI * k) / 100) + 1)) / 2 },
      /schedule\.(endpoints|monotone)/,
    ],
    ["Momentum²'s α as the weight on the old value", { ...alpha, at: (k) => 1 - alpha.at(k) }, /schedule\.endpoints/],
    ['values below 0', { ...alpha, at: (k) => alpha.at(k) - 0.01 }, /schedule\.range/],
    ['not the closed form it claims (a linear ramp)', { ...cosine, at: (k) => 0.99 + (0.01 * Math.min(k, 100)) / 100 }, /schedule\.closedForm/],
  ]
  for (const [name, subject, law] of twins) {
    it(`catches ${name}`, async () => {
      const fails = await failing(name, subject, scheduleLaws, 50)
      expect(fails.length).toBeGreaterThan(0)
      expect(fails.map((f) => f.law).join(' ')).toMatch(law)
    })
  }
})

describe("no false positives on polyak's own subjects", () => {
  it('the whole catalogue passes (or fails where expected) over 20 seeds', async () => {
    const entries = [...catalogue, ...registryEntries(), ...drawnConfigEntries(0, 2)].filter((e) => e.suite !== 'backend')
    expect(entries.filter((e) => e.suite === 'model' || e.suite === 'schedule').length).toBeGreaterThanOrEqual(10)
    for (let seed = 1; seed <= 20; seed++) {
      const results = await runEntries(tfOps as never, entries, { numRuns: 8, seed })
      const bad = results.filter((r) => !r.ok)
      expect(bad.map((r) => `${r.law} on ${r.subject} (seed ${seed}): ${r.error ?? ''}`)).toEqual([])
    }
  }, 600_000)

  it('a model of the user runs every whole-model law', async () => {
    const subject: ModelSubject = {
      model: network({ inputShape: [5, 5, 1], backbone: sequential({ c: conv(3), n: norm(), r: relu(), p: globalAvgPool() }), norm: 'layerNorm', classes: 2 }),
    }
    const results = await runLaws('user model', subject, modelLaws, tfOps as never, { numRuns: 10 })
    expect(results.map((r) => [r.law, r.passed])).toEqual(modelLaws.map((l) => [l.name, true]))
  })
})
