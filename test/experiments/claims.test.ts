/**
 * The claims' analysis on planted results: the runs `claimRuns` designs, given results with a
 * known effect, no effect or a reversed one (each seed with its own shared offset, as when both
 * arms share an initialisation and batches), come out reproduced, inconclusive (with a sensible
 * smallest detectable effect) and contradicted; the learning-rate pick and the design's
 * invariants (paired arms differ only where the design says) hold.
 */
import { describe, expect, it } from 'vitest'
import { analyseClaim, pickLearningRates } from '../../src/node/experiments/analysis.js'
import { type ClaimRun, claimRuns, selectionRuns } from '../../src/node/experiments/claims.js'
import type { StepTimingResult } from '../../src/node/experiments/stepTiming.js'
import type { JobResult } from '../../src/node/sweep/runJob.js'
import { pairedComparison } from '../../src/node/experiments/paired.js'
import { normal, rng } from '../../src/nn/random.js'

const SEEDS = [0, 1, 2, 3, 4]

/** A finished job whose result is `result`. */
const job = (result: Record<string, unknown>): JobResult => ({
  id: 'x',
  params: {},
  file: {},
  result,
  seconds: 1,
  polyak: '0',
  finishedAt: '',
  worker: 'local',
})

/** Results for `runs`: `accuracy(run)` in [0, 1] plus a shared per-seed offset (spread 5 points) and small per-run noise (0.3 points). */
const plant = (
  runs: readonly ClaimRun[],
  value: (r: ClaimRun) => number,
  wrap: (acc: number) => Record<string, unknown>,
  salt = 1,
): Map<ClaimRun, JobResult> => {
  const r = rng(salt)
  const offsets = new Map(SEEDS.map((s) => [s, 5 * normal(r)]))
  return new Map(runs.map((run) => [run, job(wrap((value(run) + (offsets.get(run.seed) ?? 0) + 0.3 * normal(r)) / 100))]))
}

const deciding = (c: { comparisons: ReadonlyArray<{ decides: boolean; verdict: string }> }) => c.comparisons.filter((x) => x.decides).map((x) => x.verdict)

describe('the WeightAlign claim on planted results', () => {
  const picks = new Map([
    ['BN', 0.1],
    ['GN', 0.1],
    ['WA', 0.1],
    ['WA+GN', 0.1],
    ['WA+BN', 0.1],
  ])
  const runs = claimRuns('weightAlign', 'quick', 'mnist', SEEDS, picks)
  const small = Math.min(...runs.map((r) => Number(r.condition)))
  /** BN falls by `bnDrop` points from the largest batch to the smallest; WeightAlign's arms by `waDrop`. */
  const planted = (bnDrop: number, waDrop: number, salt: number) =>
    analyseClaim(
      'weightAlign',
      runs,
      plant(
        runs,
        (r) => 80 - (r.condition === small ? (r.arm === 'BN' || r.arm === 'GN' ? bnDrop : waDrop) : 0),
        (accuracy) => ({ accuracy }),
        salt,
      ),
    )

  it('a known effect (BN falls 15 points at batch 1, WeightAlign 1) comes out reproduced', () => {
    const r = planted(15, 1, 1)
    expect(deciding(r)).toEqual(['reproduced', 'reproduced'])
    expect(r.outcome).toBe('reproduced')
    expect(r.verdict).toMatch(/^reproduced: BN’s drop − WA’s drop: Δ \+1\d\.\d points/)
  })

  it('a null effect (every arm falls 5 points) comes out inconclusive, with a smallest detectable effect of the order of the paired noise', () => {
    const r = planted(5, 5, 2)
    expect(r.outcome).toBe('inconclusive')
    for (const c of r.comparisons.filter((x) => x.decides)) {
      expect(c.verdict).toBe('inconclusive')
      // drops differ by four runs' noise (0.3 each): s_d ≈ 0.6, so 5 seeds detect about 1.66·0.6 ≈ 1 point
      expect(c.smallestDetectable).toBeGreaterThan(0.2)
      expect(c.smallestDetectable).toBeLessThan(3)
    }
  })

  it('a reversed effect (WeightAlign falls 15 points, BN 1) comes out contradicted', () => {
    const r = planted(1, 15, 3)
    expect(r.outcome).toBe('contradicted')
    expect(deciding(r)).toEqual(['contradicted', 'contradicted'])
  })

  it('every arm of a batch shares the seed, the images and the epochs; only the normalizers and the picked rate differ', () => {
    for (const seed of SEEDS) {
      const at = runs.filter((r) => r.seed === seed && r.condition === small)
      const strip = (f: Record<string, unknown>) => {
        const c = (f.config as Record<string, unknown>) ?? {}
        const { norm: _n, weightNorm: _w, lr: _l, ...rest } = c
        return JSON.stringify({ ...f, config: rest })
      }
      expect(new Set(at.map((r) => strip(r.file))).size).toBe(1)
    }
    // the learning rate scales with the batch from the pick at 64
    for (const r of runs) expect((r.file.config as { lr: number }).lr).toBeCloseTo((0.1 * Number(r.condition)) / 64, 12)
  })
})

describe("WeightAlign's learning-rate pick", () => {
  it('picks each arm’s best validation accuracy (the smaller rate on a tie), from selection runs on validation images at one seed', () => {
    const runs = selectionRuns('quick', 'mnist')
    expect(new Set(runs.map((r) => r.seed)).size).toBe(1)
    expect(runs.every((r) => (r.file.data as { evaluateOn?: string }).evaluateOn === 'validation')).toBe(true)
    expect(runs.every((r) => !SEEDS.includes(r.seed))).toBe(true)
    const acc = (r: ClaimRun) => (r.arm === 'BN' ? (r.selection!.lr === 0.1 ? 0.9 : 0.5) : r.arm === 'GN' ? 0.7 : r.selection!.lr === 0.05 ? 0.8 : 0.6)
    const s = pickLearningRates(runs, new Map(runs.map((r) => [r, job({ accuracy: acc(r) })])))
    expect(s.picks.get('BN')).toBe(0.1)
    expect(s.picks.get('GN')).toBe(0.05) // a tie: the smaller rate
    expect(s.picks.get('WA')).toBe(0.05)
    expect(s.grid).toEqual([0.05, 0.1])
    // an arm without finished selection runs has no pick, and so no evaluation runs
    const partial = pickLearningRates(runs, new Map(runs.filter((r) => r.arm !== 'WA').map((r) => [r, job({ accuracy: acc(r) })])))
    expect(partial.picks.has('WA')).toBe(false)
    expect(claimRuns('weightAlign', 'quick', 'mnist', [0], partial.picks).some((r) => r.arm === 'WA')).toBe(false)
  })
})

describe('the semi- and self-supervised claims on planted results', () => {
  it('EMAN semi: a teacher 3 points ahead at both label counts is reproduced; behind, contradicted; level, inconclusive', () => {
    const runs = claimRuns('emanSemi', 'quick', 'mnist', SEEDS)
    const wrap = (teacher: number) => ({ final: { student: teacher, teacher } })
    const at = (gap: number, salt: number) =>
      analyseClaim(
        'emanSemi',
        runs,
        plant(runs, (r) => 70 + (r.arm === 'EMAN teacher' ? gap : 0), wrap, salt),
      )
    expect(at(3, 1).outcome).toBe('reproduced')
    expect(at(-3, 2).outcome).toBe('contradicted')
    expect(at(0, 3).outcome).toBe('inconclusive')
    expect(at(3, 1).comparisons.map((c) => c.condition)).toEqual([4, 25])
  })

  it('Momentum²: the smallest batch decides; a gain at the larger batches alone is inconclusive', () => {
    const runs = claimRuns('momentum2', 'quick', 'mnist', SEEDS)
    const batches = [...new Set(runs.map((r) => Number(r.condition)))].sort((a, b) => a - b)
    const wrap = (linearProbe: number) => ({ linearProbe, knn: linearProbe })
    const gainAt = (batch: number, salt: number) =>
      analyseClaim(
        'momentum2',
        runs,
        plant(runs, (r) => 70 + (r.arm === 'Momentum BN teacher' && r.condition === batch ? 4 : 0), wrap, salt),
      )
    expect(gainAt(batches[0]!, 1).outcome).toBe('reproduced')
    expect(gainAt(batches[batches.length - 1]!, 2).outcome).toBe('inconclusive')
    // EMAN-self shares the BN arm's runs: the same train files
    const emanSelf = claimRuns('emanSelf', 'quick', 'mnist', SEEDS).filter((r) => r.arm.startsWith('BN'))
    expect(emanSelf.map((r) => JSON.stringify(r.file))).toEqual(runs.filter((r) => r.arm.startsWith('BN')).map((r) => JSON.stringify(r.file)))
  })
})

describe('the projector-only claim on planted step times', () => {
  const runs = claimRuns('projectorOnly', 'quick', 'mnist', SEEDS)
  const results = plant(
    runs,
    () => 70,
    (linearProbe) => ({ linearProbe, knn: linearProbe }),
  )
  const timing = (encoder: readonly number[], projector: readonly number[]): StepTimingResult => {
    const pairs = encoder.map((e, i) => ({ encoder: e, projector: projector[i]! }))
    const ratios = pairs.map((p) => p.projector / p.encoder)
    return {
      options: { backends: ['wasm'], model: { kind: 'resnet', depth: 8, width: 2 }, resolution: 14, batchSize: 8, pairs: pairs.length, repeats: 1 },
      backends: [
        {
          backend: 'wasm',
          pairs,
          comparison: pairedComparison(new Map(pairs.map((p, i) => [i, p.projector])), new Map(pairs.map((p, i) => [i, p.encoder])), 'less'),
          ratio: ratios.sort((a, b) => a - b)[2]!,
          ratioRange: [Math.min(...ratios), Math.max(...ratios)],
        },
      ],
      skipped: [],
    }
  }

  it('cheaper steps at equal accuracy: reproduced; dearer steps: contradicted; the same: inconclusive', () => {
    const enc = [100, 120, 90, 110, 105]
    expect(
      analyseClaim('projectorOnly', runs, results, {
        timing: timing(
          enc,
          enc.map((t) => t * 0.8 + 1),
        ),
      }).outcome,
    ).toBe('reproduced')
    expect(
      analyseClaim('projectorOnly', runs, results, {
        timing: timing(
          enc,
          enc.map((t) => t * 1.2),
        ),
      }).outcome,
    ).toBe('contradicted')
    expect(analyseClaim('projectorOnly', runs, results, { timing: timing(enc, [101, 119, 91, 109, 106]) }).outcome).toBe('inconclusive')
  })

  it('without a step-time measurement there is no verdict', () => {
    expect(analyseClaim('projectorOnly', runs, results).verdict).toMatch(/not enough finished runs/)
  })
})
