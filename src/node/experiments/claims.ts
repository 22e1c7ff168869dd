/**
 * The five claims of the seed papers as controlled experiments: each claim's arms, budgets and
 * seeds as train files (run as a sweep), and how its result is read (metric, grouping, verdict).
 *
 * Every design here was fixed before the runs it describes, and `DESIGN` states it with its
 * reasons: the results page prints it before any number. Budgets: `quick` (tiny runs, for CI: they
 * only show that everything runs and the report validates) and `full` (the measured results, a
 * residual backbone at 28×28, within 45 minutes on 2 cores per data set).
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
  /** A run that picks a setting (WeightAlign's learning rates) on validation images, not a result. */
  readonly selection?: { readonly lr: number }
}

/** What a claim is, in words, with the paper it comes from. */
export const CLAIM_TEXT: Record<ClaimName, { readonly title: string; readonly claim: string; readonly paper: string }> = {
  emanSemi: {
    title: 'EMAN, semi-supervised (FixMatch)',
    claim: 'an EMAN teacher (EMA of weights and BN statistics, eval-mode BN) beats a BN teacher (EMA of weights, batch statistics), most with few labels',
    paper: 'Cai et al., Exponential Moving Average Normalization for Self-supervised and Semi-supervised Learning, CVPR 2021',
  },
  emanSelf: {
    title: 'EMAN, self-supervised (BYOL)',
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

/** The backbone of every full-budget run: a CIFAR-style ResNet-8 (a BasicBlock per stage, stages of 8, 16, 32 channels). */
export const FULL_BACKBONE = { kind: 'resnet', depth: 8, width: 8 } as const

/** The quick budget's backbone: the same family, 2 channels wide, at 14×14. */
const QUICK_BACKBONE = { kind: 'resnet', depth: 8, width: 2 } as const

/** The settings of each claim at a budget (module doc; `DESIGN` gives the reasons). */
export const budgetOf = (b: Budget) => {
  const full = b === 'full'
  return {
    backbone: full ? FULL_BACKBONE : QUICK_BACKBONE,
    resolution: full ? 28 : 14,
    /** Test images every run is evaluated on. */
    testImages: full ? 1000 : 100,
    semi: { steps: full ? 800 : 12, evalEvery: full ? 100 : 6, trainImages: full ? 20000 : 600, labelsPerClass: [4, 25] as const },
    /** BYOL: images seen per run (the steps follow from the batch), batches, and the frozen-feature evaluation. */
    byol: {
      images: full ? 2560 : 48,
      batches: full ? ([4, 8, 16, 32] as const) : ([4, 8] as const),
      curvePoints: full ? 4 : 2,
      trainImages: full ? 20000 : 600,
    },
    simclr: { images: full ? 2560 : 48, batch: full ? 32 : 8, trainImages: full ? 20000 : 600 },
    probe: { train: full ? 1000 : 100, test: full ? 1000 : 100 },
    /** WeightAlign: epochs over `trainImages`, the batches, the learning-rate grid (at batch 64, scaled linearly) and the validation images. */
    wa: {
      trainImages: full ? 1024 : 64,
      epochs: 2,
      batches: full ? ([1, 4, 16, 64] as const) : ([1, 8] as const),
      lrGrid: full ? ([0.025, 0.05, 0.1, 0.2] as const) : ([0.05, 0.1] as const),
      validationImages: full ? 1000 : 100,
    },
  }
}

/** The seed of the learning-rate selection runs: none of the evaluated seeds (0, 1, …). */
export const SELECTION_SEED = 1000

/** The batch at which each WeightAlign arm's learning rate is picked (and from which it scales linearly). */
export const WA_REFERENCE_BATCH = 64

/** The WeightAlign arms: name, activation normalizer, weight normalizer. */
export const WA_ARMS = [
  ['BN', 'batchNorm', 'none'],
  ['GN', 'groupNorm', 'none'],
  ['WA', 'none', 'weightAlign'],
  ['WA+GN', 'groupNorm', 'weightAlign'],
  ['WA+BN', 'batchNorm', 'weightAlign'],
] as const

/** The BYOL teachers of the shared EMAN-self / Momentum² design: method, arm. */
export const BYOL_TEACHERS = [
  ['byol-bn', 'BN teacher (batch statistics)'],
  ['byol-eman', 'EMAN teacher'],
  ['byol-m2', 'Momentum BN teacher'],
] as const

/**
 * The design of each claim, fixed before its runs and printed before any number (why each
 * setting is what it is). The budget-dependent numbers come from `budgetOf('full')`.
 */
export const DESIGN: Record<ClaimName, string> = (() => {
  const z = budgetOf('full')
  return {
    emanSemi:
      `FixMatch on a ResNet-8 (width 8, BN) with ${z.semi.labelsPerClass.map((k) => `${k}`).join(' and ')} labels per class (${z.semi.labelsPerClass.map((k) => 10 * k).join(' and ')} labels: FixMatch’s CIFAR-10 protocol of 40 and 250), ` +
      `${z.semi.trainImages} unlabelled images, ${z.semi.steps} steps, labelled batch 16 and unlabelled batch 16: small, so that a BN teacher’s batch statistics over the weak views are noisy. ` +
      'Threshold 0.95 and λ_u = 1 (FixMatch), SGD with Nesterov momentum 0.9, lr 0.03 on a warm-up-cosine schedule, weight decay 5e-4. ' +
      'The teacher pseudo-labels the weak views; its decay is EMAN’s 0.999 with Mean Teacher’s ramp d_k = min(0.999, 1 − 1/(k + 1)), because at a constant 0.999 a run of a few hundred steps leaves most of the random initialisation in the teacher. ' +
      `Arms: BN teacher (EMA of weights, train-mode BN on the weak batch) and EMAN teacher (EMA of weights and BN statistics, eval mode). Metric: the teacher’s accuracy on ${z.testImages} test images; the curve every ${z.semi.evalEvery} steps shows whether it has flattened. ` +
      'The claim is tested at each label count: EMAN − BN > 0.',
    emanSelf:
      `BYOL on a ResNet-8 (width 8, BN) with BN in the projector and predictor MLPs (dense 64 → BN → ReLU → dense 32), as BYOL has them: at small batches these BN layers see few samples. ` +
      `The same runs as the Momentum² claim (the BN-teacher arm is shared): batches ${z.byol.batches.join(', ')}, ${z.byol.images} images seen per run (the steps follow from the batch), LARS with lr 0.3·B/64 on a warm-up-cosine schedule, teacher decay cosine from 0.99 to 1. ` +
      `Metric: linear probe and k-NN (k = 10) on frozen features, ${z.probe.train} training and ${z.probe.test} test images; a k-NN curve at ${z.byol.curvePoints} points shows whether the runs flattened. ` +
      'The claim is tested at each batch: EMAN − BN teacher linear probe > 0. MoCo v2 is left out to keep the run within budget.',
    momentum2:
      `The BYOL runs of the EMAN-self claim (above): the Momentum BN teacher (weights EMA, momentum BN over both views with α from 1 to 0 on a cosine) against the BN teacher (batch statistics), at batches ${z.byol.batches.join(', ')}. ` +
      'The paper’s claim is about small batches: the smallest batch (4) decides, the others are reported. Metric: the linear probe (k-NN alongside).',
    projectorOnly:
      `SimCLR on the ResNet-8 at batch ${z.simclr.batch}, ${z.simclr.images} images, LARS lr 0.15: no momentum, full-encoder momentum (a momentum backbone and projector) and projector-only momentum (a momentum projector fed the online features). ` +
      'Accuracy (linear probe) is paired by seed. Step time is measured as interleaved pairs in one process with nothing else running (full-encoder, then projector-only, 5 times, medians of 3 steps each) on wasm and on webgpu, and reported as the ratio projector-only ÷ full-encoder. ' +
      'The claim holds when the step is cheaper (time interval below 0) and the accuracy is not contradicted.',
    weightAlign:
      `Supervised ResNet-8 (width 8), ${z.wa.epochs} epochs over ${z.wa.trainImages} training images at every batch size (${z.wa.batches.join(', ')}), SGD with momentum 0.9 and no weight decay, so that each batch size sees the same images; ` +
      `the learning rate scales linearly with the batch (lr = base·B/64), the rule under which SGD at a fixed number of epochs takes the same path at every batch. ` +
      `Each arm’s base learning rate is picked from the grid ${z.wa.lrGrid.join(', ')} at batch 64, by accuracy on ${z.wa.validationImages} validation images (training images after the ${z.wa.trainImages} trained on; seed ${SELECTION_SEED}, none of the evaluated seeds); the grid and the picks are reported. ` +
      `Arms: BN, GN, WA, WA+GN, WA+BN. BN is evaluated as it is deployed, in eval mode with its running statistics. Metric: accuracy on ${z.testImages} test images. ` +
      'The claim is tested as the drop from batch 64 to batch 1, paired by seed: BN’s drop − WA’s drop > 0 and BN’s drop − WA+GN’s drop > 0; GN alone is the control that says whether the stability comes from WeightAlign.',
  }
})()

/** The data section of a train file. */
const dataOf = (dataset: DatasetName, b: Budget, trainImages: number, evaluateOn: 'test' | 'validation' = 'test') => {
  const z = budgetOf(b)
  return {
    dataset,
    trainImages,
    testImages: evaluateOn === 'test' ? z.testImages : z.wa.validationImages,
    resolution: z.resolution,
    ...(evaluateOn === 'validation' ? { evaluateOn } : {}),
  }
}

/** The supervised train file of a WeightAlign arm at a batch with a base learning rate. */
const waFile = (
  b: Budget,
  dataset: DatasetName,
  arm: (typeof WA_ARMS)[number],
  batchSize: number,
  base: number,
  seed: number,
  evaluateOn: 'test' | 'validation',
) => {
  const z = budgetOf(b)
  const steps = Math.ceil((z.wa.epochs * z.wa.trainImages) / batchSize)
  return {
    kind: 'supervised',
    data: dataOf(dataset, b, z.wa.trainImages, evaluateOn),
    model: z.backbone,
    config: {
      norm: arm[1],
      weightNorm: arm[2],
      batchSize,
      samples: z.wa.epochs * z.wa.trainImages,
      optimizer: 'sgd',
      momentum: 0.9,
      weightDecay: 0,
      lr: (base * batchSize) / WA_REFERENCE_BATCH,
      evalLimit: evaluateOn === 'test' ? z.testImages : z.wa.validationImages,
      evalEvery: evaluateOn === 'test' ? Math.max(1, Math.floor(steps / 4)) : 0,
      seed,
    },
  }
}

/** The learning-rate selection runs of the WeightAlign claim: every arm at the reference batch, every grid value, on validation images. */
export const selectionRuns = (b: Budget, dataset: DatasetName): ClaimRun[] =>
  WA_ARMS.flatMap((arm) =>
    budgetOf(b).wa.lrGrid.map((lr) => ({
      claim: 'weightAlign' as const,
      arm: arm[0],
      condition: `lr ${lr}`,
      seed: SELECTION_SEED,
      selection: { lr },
      file: { backend: 'wasm', ...waFile(b, dataset, arm, WA_REFERENCE_BATCH, lr, SELECTION_SEED, 'validation') },
    })),
  )

/**
 * The runs of `claim` at budget `b` on `dataset` for `seeds`. The WeightAlign runs need each arm's
 * picked base learning rate (`picks`, from `selectionRuns`); without it they are left out.
 */
export const claimRuns = (claim: ClaimName, b: Budget, dataset: DatasetName, seeds: readonly number[], picks?: ReadonlyMap<string, number>): ClaimRun[] => {
  const z = budgetOf(b)
  const runs: ClaimRun[] = []
  const add = (arm: string, condition: string | number, seed: number, file: Record<string, unknown>): void => {
    runs.push({ claim, arm, condition, seed, file: { backend: 'wasm', ...file } })
  }
  const byol = (method: string, batchSize: number, seed: number) => {
    const steps = Math.max(2, Math.round(z.byol.images / batchSize))
    return {
      kind: 'selfSupervised',
      data: dataOf(dataset, b, z.byol.trainImages),
      model: z.backbone,
      config: {
        method,
        batchSize,
        steps,
        lr: (0.3 * batchSize) / 64,
        emaBase: 0.99,
        probeTrain: z.probe.train,
        probeTest: z.probe.test,
        evalEvery: Math.max(1, Math.floor(steps / z.byol.curvePoints)),
        seed,
      },
    }
  }
  for (const seed of seeds) {
    switch (claim) {
      case 'emanSemi':
        for (const k of z.semi.labelsPerClass) {
          for (const teacher of ['bn', 'eman']) {
            add(teacher === 'bn' ? 'BN teacher' : 'EMAN teacher', k, seed, {
              kind: 'semiSupervised',
              data: dataOf(dataset, b, z.semi.trainImages),
              model: z.backbone,
              config: {
                method: 'fixmatch',
                teacher,
                labelsPerClass: k,
                batchLabelled: 16,
                batchUnlabelled: 16,
                threshold: 0.95,
                lambdaU: 1,
                lr: 0.03,
                weightDecay: 5e-4,
                emaDecay: 0.999,
                emaWarmup: true,
                steps: z.semi.steps,
                evalEvery: z.semi.evalEvery,
                evalLimit: z.testImages,
                seed,
              },
            })
          }
        }
        break
      case 'emanSelf':
      case 'momentum2':
        for (const batchSize of z.byol.batches)
          for (const [method, arm] of BYOL_TEACHERS)
            if (method === 'byol-bn' || method === (claim === 'emanSelf' ? 'byol-eman' : 'byol-m2')) add(arm, batchSize, seed, byol(method, batchSize, seed))
        break
      case 'projectorOnly':
        for (const [method, arm] of [
          ['simclr', 'no momentum'],
          ['simclr-encoder', 'full-encoder momentum'],
          ['simclr-projector', 'projector-only momentum'],
        ] as const) {
          add(arm, 'SimCLR', seed, {
            kind: 'selfSupervised',
            data: dataOf(dataset, b, z.simclr.trainImages),
            model: z.backbone,
            config: {
              method,
              batchSize: z.simclr.batch,
              steps: Math.max(2, Math.round(z.simclr.images / z.simclr.batch)),
              lr: (0.3 * z.simclr.batch) / 64,
              probeTrain: z.probe.train,
              probeTest: z.probe.test,
              seed,
            },
          })
        }
        break
      case 'weightAlign':
        if (picks === undefined) break
        for (const batchSize of z.wa.batches)
          for (const arm of WA_ARMS) {
            const base = picks.get(arm[0])
            if (base !== undefined) add(arm[0], batchSize, seed, waFile(b, dataset, arm, batchSize, base, seed, 'test'))
          }
        break
    }
  }
  return runs
}
