/**
 * The five claims of the seed papers as controlled experiments: each claim's arms, budgets and
 * seeds as train files (run as a sweep), and how its result is read (metric, grouping, verdict).
 *
 * Budgets: `quick` (tiny runs, for CI: they only show that everything runs and the report
 * validates) and `full` (the measured results; about 20 minutes on 2 cores).
 *
 * @module experiments/claims
 */
import type { DatasetName } from '../../train/trainConfig.js'

/** The claims, by name. */
export type ClaimName = 'emanSemi' | 'emanSelf' | 'momentum2' | 'projectorOnly' | 'weightAlign'

/** Every claim, in report order. */
export const CLAIMS: readonly ClaimName[] = ['emanSemi', 'emanSelf', 'momentum2', 'projectorOnly', 'weightAlign']

/** How much each run trains. */
export type Budget = 'quick' | 'full'

/** One run of a claim: its arm, the condition it is in (a fraction of labels, a batch size, …), its seed, and its train file. */
export interface ClaimRun {
  readonly claim: ClaimName
  readonly arm: string
  /** The x of the claim's plot (labelled fraction in %, batch size), or a label. */
  readonly condition: string | number
  readonly seed: number
  readonly file: Record<string, unknown>
}

/** What a claim is, in words, with the paper it comes from. */
export const CLAIM_TEXT: Record<ClaimName, { readonly title: string; readonly claim: string; readonly paper: string }> = {
  emanSemi: {
    title: 'EMAN, semi-supervised (FixMatch)',
    claim: 'an EMAN teacher (EMA of weights and BN statistics, eval-mode BN) beats a BN teacher (EMA of weights, batch statistics), most with few labels',
    paper: 'Cai et al., Exponential Moving Average Normalization for Self-supervised and Semi-supervised Learning, CVPR 2021',
  },
  emanSelf: {
    title: 'EMAN, self-supervised (BYOL, MoCo v2)',
    claim: 'replacing the momentum teacher’s BN by EMAN improves the learned representation (linear probe, k-NN)',
    paper: 'Cai et al., CVPR 2021',
  },
  momentum2: {
    title: 'Momentum² Teacher at small batch',
    claim:
      'a teacher with momentum BN (statistics averaged over steps) stays good at small batches where a teacher with batch-statistics BN degrades, without SyncBN',
    paper: 'Li, Liu, Sun, Momentum² Teacher: Momentum Teacher with Momentum Statistics for Self-Supervised Learning, 2021',
  },
  projectorOnly: {
    title: 'Projector-only momentum (SimCLR)',
    claim: 'momentum on the projector alone matches full-encoder momentum at the cost of one backbone pass per view',
    paper: 'Pham et al., On the Pros and Cons of Momentum Encoder in Self-Supervised Visual Representation Learning, 2022',
  },
  weightAlign: {
    title: 'WeightAlign across batch sizes',
    claim: 'WeightAlign (alone or with GroupNorm) is batch-independent: its accuracy is stable across batch sizes where BatchNorm degrades at batch 1 to 4',
    paper: 'Shi et al., WeightAlign: Normalizing Activations by Weight Alignment, ICPR 2020',
  },
}

const sizes = (b: Budget) => ({
  semiSteps: b === 'full' ? 2000 : 12,
  selfSteps: b === 'full' ? 1000 : 8,
  m2Steps: b === 'full' ? 1000 : 8,
  waImages: b === 'full' ? 8192 : 64,
  trainImages: b === 'full' ? 20000 : 600,
  testImages: b === 'full' ? 2000 : 100,
  probeTrain: b === 'full' ? 2000 : 200,
  probeTest: b === 'full' ? 1000 : 100,
  waBatches: b === 'full' ? [1, 2, 4, 8, 16, 32, 64] : [1, 8, 64],
})

const data = (dataset: DatasetName, b: Budget) => ({ dataset, trainImages: sizes(b).trainImages, testImages: sizes(b).testImages })

/**
 * The runs of `claim` at budget `b` on `dataset` for `seeds`.
 *
 * The WeightAlign sweep gives every batch size the same images (8 192, one budget in epochs) with
 * the learning rate scaled linearly with the batch (Adam, 1e-3 at batch 64): every batch size sees
 * the same data and takes the same total step length (lr × steps), so a batch-independent
 * normaliser should draw a flat curve and a batch-size effect comes from the normaliser. A fixed
 * number of steps does not do that: it gives batch 1 64 times fewer images than batch 64, and in a
 * full run with 500 steps every arm, GroupNorm included, lost 45 to 63 points at batch 1.
 */
export const claimRuns = (claim: ClaimName, b: Budget, dataset: DatasetName, seeds: readonly number[]): ClaimRun[] => {
  const z = sizes(b)
  const runs: ClaimRun[] = []
  const add = (arm: string, condition: string | number, seed: number, file: Record<string, unknown>): void => {
    runs.push({ claim, arm, condition, seed, file: { backend: 'wasm', data: data(dataset, b), ...file } })
  }
  for (const seed of seeds) {
    switch (claim) {
      case 'emanSemi':
        for (const fraction of [0.01, 0.1]) {
          for (const teacher of ['bn', 'eman']) {
            add(teacher === 'bn' ? 'BN teacher' : 'EMAN teacher', 100 * fraction, seed, {
              kind: 'semiSupervised',
              config: {
                method: 'fixmatch',
                teacher,
                labelledFraction: fraction,
                steps: z.semiSteps,
                evalEvery: Math.max(1, Math.floor(z.semiSteps / 10)),
                evalLimit: z.testImages,
                seed,
              },
            })
          }
        }
        break
      case 'emanSelf':
        for (const [method, arm] of [
          ['byol-bn', 'BYOL, BN teacher'],
          ['byol-eman', 'BYOL, EMAN teacher'],
          ['moco-bn', 'MoCo v2, BN teacher'],
          ['moco-eman', 'MoCo v2, EMAN teacher'],
        ] as const) {
          add(arm, method.startsWith('byol') ? 'BYOL' : 'MoCo v2', seed, {
            kind: 'selfSupervised',
            config: { method, steps: z.selfSteps, probeTrain: z.probeTrain, probeTest: z.probeTest, seed },
          })
        }
        break
      case 'momentum2':
        for (const batchSize of [8, 16, 32]) {
          for (const [method, arm] of [
            ['byol-bn', 'BN teacher (batch statistics)'],
            ['byol-m2', 'Momentum BN teacher'],
          ] as const) {
            add(arm, batchSize, seed, {
              kind: 'selfSupervised',
              config: { method, batchSize, steps: z.m2Steps, probeTrain: z.probeTrain, probeTest: z.probeTest, seed },
            })
          }
        }
        break
      case 'projectorOnly':
        for (const [method, arm] of [
          ['simclr', 'no momentum'],
          ['simclr-encoder', 'full-encoder momentum'],
          ['simclr-projector', 'projector-only momentum'],
        ] as const) {
          add(arm, 'SimCLR', seed, { kind: 'selfSupervised', config: { method, steps: z.selfSteps, probeTrain: z.probeTrain, probeTest: z.probeTest, seed } })
        }
        break
      case 'weightAlign':
        for (const batchSize of z.waBatches) {
          for (const [arm, norm, weightNorm] of [
            ['BN', 'batchNorm', 'none'],
            ['GN', 'groupNorm', 'none'],
            ['WA', 'none', 'weightAlign'],
            ['WA+GN', 'groupNorm', 'weightAlign'],
            ['WA+BN', 'batchNorm', 'weightAlign'],
          ] as const) {
            add(arm, batchSize, seed, {
              kind: 'supervised',
              config: { norm, weightNorm, batchSize, samples: z.waImages, lr: (1e-3 * batchSize) / 64, evalLimit: z.testImages, seed },
            })
          }
        }
        break
    }
  }
  return runs
}
