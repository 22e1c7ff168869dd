/**
 * The convention audit: every convention `docs/methods.md` states for a normalizer, a teacher
 * policy, an EMA form, a schedule or a model, with the law that checks it and a planted mutation of
 * polyak's own source that the law must catch. `conventionAudit.test.ts` plants each mutation in a
 * fresh bundle of the sources, runs the law over the mutant's catalogue, and writes the table into
 * `docs/methods.md` (between the `audit` markers).
 *
 * A mutation is a literal edit: `find` must occur exactly once in `file`, so a refactor that
 * moves the code shows up as a failing row to re-aim, never as a silently skipped one.
 */

/** What a convention belongs to (the table's first column; the coverage test checks every registered name has a row). */
export type AuditArea =
  | 'emaLeaf'
  | 'ema'
  | 'teacherUpdate'
  | 'eman'
  | 'weightsOnly'
  | 'paramsEmaStatsCopy'
  | 'projectorOnly'
  | 'batchNorm'
  | 'groupNorm'
  | 'layerNorm'
  | 'instanceNorm'
  | 'momentumBatchNorm'
  | 'weightAlign'
  | 'weightStandardization'
  | 'cosineToOne'
  | 'momentumBnAlpha'
  | 'warmup'
  | 'constant'
  | 'modules'

/** One convention and its check. */
export interface Convention {
  readonly area: AuditArea
  /** The convention: a formula or a statement, as in docs/methods.md. */
  readonly convention: string
  /** The law's ID in docs/methods.md (E…, B…, N…). */
  readonly id: string
  /** The law's name, as the catalogue runs it. */
  readonly law: string
  /** A one-line edit of polyak's source that breaks the convention. */
  readonly mutation: { readonly file: string; readonly find: string; readonly replace: string; readonly what: string }
}

const at = (file: string, find: string, replace: string, what: string) => ({ file, find, replace, what })

const EMA = 'src/ema/ema.ts'
const TEACHER = 'src/ema/teacher.ts'
const SCHED = 'src/ema/schedules.ts'
const BN = 'src/norm/batchNorm.ts'
const NORM = 'src/norm/normalizer.ts'
const GN = 'src/norm/groupNorm.ts'
const MBN = 'src/norm/momentumBatchNorm.ts'
const WA = 'src/norm/weightAlign.ts'
const WS = 'src/norm/weightStandardization.ts'
const EMAN = 'src/norm/eman.ts'
const MODULE = 'src/nn/module.ts'

const AXPBY = 'return ops.axpby(decay, avg, 1 - decay, x, { donate })'
const BN_EVAL = "if (mode === 'eval') return [batchNormEval(ops, 'batchNorm', x, params, stats, c.epsilon), { params, stats }]"
const BN_COUNT = "count: ops.add(stats.count, ops.scalar(1, 'int32')),"

/** The audit, in the order of docs/methods.md. */
export const CONVENTIONS: readonly Convention[] = [
  // ---------------------------------------------------------------- moving averages
  {
    area: 'emaLeaf',
    convention: '`decay` weighs the old value: `d = 1` leaves the average unchanged, bitwise',
    id: 'E1',
    law: 'ema.identity',
    mutation: at(
      EMA,
      'if (decay === 1) return ops.clone(avg)',
      'if (decay === 1) return ops.clone(x)',
      "PyTorch's convention at the edge (`d = 1` takes the new value)",
    ),
  },
  {
    area: 'emaLeaf',
    convention: '`d = 0` gives the target bitwise (a two-sided `axpby`, never the one-sided lerp)',
    id: 'E2',
    law: 'ema.copy',
    mutation: at(
      EMA,
      'if (decay === 0) return ops.clone(x)',
      'if (decay === 0) return ops.add(avg, ops.sub(x, avg))',
      'the one-sided lerp `θ + (x − θ)` at `d = 0`',
    ),
  },
  {
    area: 'emaLeaf',
    convention: '`avg ← d·avg + (1 − d)·x`; `k` steps toward `c` give `d^k·θ_0 + (1 − d^k)·c`',
    id: 'E4',
    law: 'ema.closedForm',
    mutation: at(EMA, AXPBY, 'return ops.axpby(1 - decay, avg, decay, x, { donate })', "PyTorch's momentum convention (weight on the new value)"),
  },
  {
    area: 'emaLeaf',
    convention: 'each element of a step lies between the old and the new value',
    id: 'E6',
    law: 'ema.convexity',
    mutation: at(EMA, AXPBY, 'return ops.axpby(decay, avg, 1.5 * (1 - decay), x, { donate })', 'a step that overshoots'),
  },
  {
    area: 'emaLeaf',
    convention: 'order matters: swapping two inputs changes the result by `(1 − d)²·(x₂ − x₁)`',
    id: 'E8',
    law: 'ema.order',
    mutation: at(EMA, AXPBY, 'return ops.axpby(0.5, avg, 0.5, x, { donate })', 'a plain average of the two'),
  },
  {
    area: 'emaLeaf',
    convention: 'the multi-tensor step is the same EMA as `emaLeaf`',
    id: 'E18',
    law: 'teacher.keepAndEma',
    mutation: at(
      EMA,
      'return ops.axpbyMany(decay, avgs, 1 - decay, xs, { donate })',
      'return ops.axpbyMany(1 - decay, avgs, decay, xs, { donate })',
      'swapped weights in `emaLeaves` only',
    ),
  },
  {
    area: 'ema',
    convention: 'zero-init bias correction `avg / (1 − Π_{t≤k} d_t)`, this step included',
    id: 'E5',
    law: 'ema.debias',
    mutation: at(EMA, 'const correction = 1 - decayProduct', 'const correction = 1 - s.stats.decayProduct', 'the product of the previous steps (off by one)'),
  },
  // ---------------------------------------------------------------- teacher updates
  {
    area: 'teacherUpdate',
    convention: 'integer leaves (step counters) are copied from the student, never averaged, and stay int32',
    id: 'E11',
    law: 'teacher.integersCopied',
    mutation: at(TEACHER, "if (p === 'ema' && isIntegerDtype(tl.dtype)) p = 'copy'", '', 'integer counters averaged like floats'),
  },
  {
    area: 'teacherUpdate',
    convention: 'student and teacher are paired by path with equal shapes, never by position',
    id: 'P7',
    law: 'teacher.rejectsMismatch',
    mutation: at(
      'src/core/tree.ts',
      'if (i > 0 && sa !== undefined && sb !== undefined && !sameShape(sa, sb)) {',
      'if (false) {',
      'no shape check when pairing leaves',
    ),
  },
  {
    area: 'teacherUpdate',
    convention: "per leaf: `keep` → the teacher's, `copy` → the student's, `ema` → `d·t + (1 − d)·s`",
    id: 'E18',
    law: 'teacher.perLeafPolicy',
    mutation: at(
      TEACHER,
      "return p === 'keep' ? tl : p === 'copy' ? ops.clone(sl) : averaged[next++]",
      "return p === 'keep' ? tl : p === 'copy' ? ops.clone(tl) : averaged[next++]",
      "`copy` takes the teacher's leaf",
    ),
  },
  {
    area: 'eman',
    convention: 'EMAN averages every float leaf, BatchNorm statistics included',
    id: 'E17',
    law: 'teacher.presets',
    mutation: at(
      TEACHER,
      "export const emanPolicy: TeacherPolicy = () => 'ema'",
      "export const emanPolicy: TeacherPolicy = (slot) => (slot === 'params' ? 'ema' : 'keep')",
      'EMAN keeps the teacher’s statistics',
    ),
  },
  {
    area: 'eman',
    convention: "`emanUpdate` is `teacherUpdate` with policy `'eman'`",
    id: 'E17',
    law: 'teacher.presets',
    mutation: at(
      EMAN,
      "teacherUpdate(ops, { ...config, policy: 'eman' })",
      "teacherUpdate(ops, { ...config, policy: 'weightsOnly' })",
      '`emanUpdate` runs the weights-only policy',
    ),
  },
  {
    area: 'weightsOnly',
    convention: 'MoCo/BYOL/Momentum²: parameters averaged, statistics stay the teacher’s',
    id: 'E17',
    law: 'teacher.presets',
    mutation: at(
      TEACHER,
      "export const weightsOnly: TeacherPolicy = (slot) => (slot === 'params' ? 'ema' : 'keep')",
      "export const weightsOnly: TeacherPolicy = (slot) => (slot === 'params' ? 'ema' : 'copy')",
      'statistics copied from the student',
    ),
  },
  {
    area: 'paramsEmaStatsCopy',
    convention: 'AveragedModel: parameters averaged, statistics copied from the student',
    id: 'E17',
    law: 'teacher.presets',
    mutation: at(
      TEACHER,
      "export const paramsEmaStatsCopy: TeacherPolicy = (slot) => (slot === 'params' ? 'ema' : 'copy')",
      "export const paramsEmaStatsCopy: TeacherPolicy = (slot) => (slot === 'params' ? 'ema' : 'keep')",
      "statistics kept (the teacher's)",
    ),
  },
  {
    area: 'projectorOnly',
    convention: 'leaves under the prefixes are averaged, the others copied from the student by default',
    id: 'E17',
    law: 'teacher.presets',
    mutation: at(
      TEACHER,
      "others: 'copy' as const, donate: false }",
      "others: 'keep' as const, donate: false }",
      "the other leaves kept (the teacher's) by default",
    ),
  },
  {
    area: 'projectorOnly',
    convention: 'a prefix selects the path itself and everything under it, never a sibling that shares its spelling',
    id: 'E17',
    law: 'teacher.presets',
    mutation: at(
      'src/core/tree.ts',
      'prefixes.some((p) => path === p || path.startsWith(p.endsWith(SEP) ? p : p + SEP))',
      'prefixes.some((p) => path.startsWith(p))',
      'a bare string prefix (`projector` selects `projector2`)',
    ),
  },
  // ---------------------------------------------------------------- BatchNorm
  {
    area: 'batchNorm',
    convention: 'train output normalised with the biased batch variance `σ²_B = (1/M)Σ(x − μ)²`',
    id: 'B1',
    law: 'batchNorm.trainMoments',
    mutation: at(
      BN,
      'const batch = ops.moments(x, axes)',
      "const batch = ops.moments(x, axes, { estimator: 'unbiased' })",
      'normalised with the unbiased variance',
    ),
  },
  {
    area: 'batchNorm',
    convention: 'ε inside the root: `(x − μ)/√(σ² + ε)`',
    id: 'B1',
    law: 'batchNorm.trainMoments',
    mutation: at(
      NORM,
      'ops.normalize(x, mean, ops.mul(gamma, ops.rsqrt(ops.shift(variance, epsilon))), beta)',
      'ops.normalize(x, mean, ops.mul(gamma, ops.div(ops.ones([]), ops.shift(ops.sqrt(variance), epsilon))), beta)',
      'ε added to the standard deviation',
    ),
  },
  {
    area: 'batchNorm',
    convention: 'affine per channel: `γ_c·x̂ + β_c`',
    id: 'B1',
    law: 'batchNorm.trainMoments',
    mutation: at(
      NORM,
      'ops.normalize(x, mean, ops.mul(gamma, ops.rsqrt(ops.shift(variance, epsilon))), beta)',
      'ops.normalize(x, mean, ops.rsqrt(ops.shift(variance, epsilon)), beta)',
      'γ dropped',
    ),
  },
  {
    area: 'batchNorm',
    convention: 'running variance unbiased: `σ²_B·M/(M − 1)` (PyTorch)',
    id: 'B2',
    law: 'batchNorm.oneStepStats',
    mutation: at(
      BN,
      "const bessel = c.runningVariance === 'unbiased' ? m / (m - 1) : 1",
      "const bessel = c.runningVariance === 'unbiased' ? 1 : 1",
      'the biased variance stored',
    ),
  },
  {
    area: 'batchNorm',
    convention: 'running mean `d·mean + (1 − d)·μ_B`, `d = 0.9` (PyTorch momentum 0.1)',
    id: 'B2',
    law: 'batchNorm.oneStepStats',
    mutation: at(BN, 'const defaults = { decay: 0.9 as Decay', 'const defaults = { decay: 0.1 as Decay', "PyTorch's momentum taken as the decay"),
  },
  {
    area: 'batchNorm',
    convention: '`count` (`num_batches_tracked`) grows by 1 per train step',
    id: 'B2',
    law: 'batchNorm.oneStepStats',
    mutation: at(BN, BN_COUNT, 'count: ops.clone(stats.count),', 'the counter never moves'),
  },
  {
    area: 'batchNorm',
    convention: 'eval mode leaves the statistics unchanged',
    id: 'B6',
    law: 'batchNorm.evalKeepsStats',
    mutation: at(
      BN,
      BN_EVAL,
      "if (mode === 'eval' && x.shape[0]! < 0) return [batchNormEval(ops, 'batchNorm', x, params, stats, c.epsilon), { params, stats }]",
      'eval runs the train path',
    ),
  },
  {
    area: 'batchNorm',
    convention: 'eval output `γ·(x − mean)/√(variance + ε) + β` with the stored statistics',
    id: 'B8',
    law: 'batchNorm.evalOutput',
    mutation: at(
      BN,
      'return affineNormalize(ops, x, stats.mean, stats.variance, params.gamma, params.beta, epsilon)',
      'return affineNormalize(ops, x, stats.mean, ops.ones(stats.variance.shape), params.gamma, params.beta, epsilon)',
      'the stored variance ignored in eval',
    ),
  },
  {
    area: 'batchNorm',
    convention: 'a train-mode BatchNorm declares itself batch-dependent (`batchDependent: true`)',
    id: 'N9',
    law: 'batch.independence',
    mutation: at(
      BN,
      'capabilities: { batchDependent: true, hasStats: true },',
      'capabilities: { batchDependent: false, hasStats: true },',
      'BatchNorm claims batch independence',
    ),
  },
  {
    area: 'eman',
    convention: "EMAN's teacher normalises with its EMA statistics in both modes (eval-mode BN)",
    id: 'N6',
    law: 'batch.independence',
    mutation: at(
      EMAN,
      "[batchNormEval(ops, 'eman', x, params, stats, c.epsilon), { params, stats }]",
      "[batchNormEval(ops, 'eman', x, params, { ...stats, mean: ops.moments(x, x.shape.slice(0, -1).map((_, i) => i)).mean }, c.epsilon), { params, stats }]",
      "the batch's mean in place of the EMA mean",
    ),
  },
  // ---------------------------------------------------------------- group normalisers
  {
    area: 'groupNorm',
    convention: 'per sample, over contiguous groups of `C/G` channels and all positions, biased variance',
    id: 'N7',
    law: 'groupNorm.groupMoments',
    mutation: at(
      GN,
      'const m = ops.moments(ops.reshape(x, [n, -1, g, k]), [1, 3], { keepDims: true })',
      "const m = ops.moments(ops.reshape(x, [n, -1, g, k]), [1, 3], { keepDims: true, estimator: 'unbiased' })",
      'the unbiased variance',
    ),
  },
  {
    area: 'groupNorm',
    convention: 'ε inside the root: `(x − μ_ng)/√(σ²_ng + ε)`',
    id: 'N7',
    law: 'groupNorm.groupMoments',
    mutation: at(
      GN,
      'ops.rsqrt(ops.shift(m.variance, epsilon))',
      'ops.div(ops.ones([]), ops.shift(ops.sqrt(m.variance), epsilon))',
      'ε added to the standard deviation',
    ),
  },
  {
    area: 'groupNorm',
    convention: 'moments per sample, never across the batch',
    id: 'B4',
    law: 'batch.independence',
    mutation: at(
      GN,
      'const m = ops.moments(ops.reshape(x, [n, -1, g, k]), [1, 3], { keepDims: true })',
      'const m = ops.moments(ops.reshape(x, [1, -1, g, k]), [1, 3], { keepDims: true })',
      'moments pooled over the batch',
    ),
  },
  {
    area: 'layerNorm',
    convention: 'LayerNorm is GroupNorm with one group (each sample over all its features)',
    id: 'N7',
    law: 'groupNorm.groupMoments',
    mutation: at(
      GN,
      "decodeSpecialCase('layerNorm', { groups: 1 }, config)",
      "decodeSpecialCase('layerNorm', { groupSize: 1 }, config)",
      'LayerNorm per channel',
    ),
  },
  {
    area: 'instanceNorm',
    convention: 'InstanceNorm is GroupNorm with one channel per group (each sample and channel over space)',
    id: 'N7',
    law: 'groupNorm.groupMoments',
    mutation: at(
      GN,
      "decodeSpecialCase('instanceNorm', { groupSize: 1 }, config)",
      "decodeSpecialCase('instanceNorm', { groups: 1 }, config)",
      'InstanceNorm over all channels',
    ),
  },
  // ---------------------------------------------------------------- momentum BN
  {
    area: 'momentumBnAlpha',
    convention: '`α_k = (cos(πk/K) + 1)/2`: 1 at the start, 0 at `K`',
    id: 'M1',
    law: 'momentumBn.alphaEndpoints',
    mutation: at(
      SCHED,
      'return (k) => (Math.cos((Math.PI * clampStep(k, K)) / K) + 1) / 2',
      'return (k) => (1 - Math.cos((Math.PI * clampStep(k, K)) / K)) / 2',
      'α rising from 0 to 1',
    ),
  },
  {
    area: 'momentumBatchNorm',
    convention: 'each view is normalised with its own batch statistics (at `α = 1`)',
    id: 'M2',
    law: 'momentumBn.alphaEndpoints',
    mutation: at(
      MBN,
      'const m = ops.moments(xv, 1, { keepDims: true })',
      'const m = ops.moments(xv, [0, 1], { keepDims: true })',
      'statistics pooled over the views',
    ),
  },
  {
    area: 'momentumBatchNorm',
    convention: 'the normalising variance carries the claimed correction (`normalizeVariance`)',
    id: 'M2',
    law: 'momentumBn.alphaEndpoints',
    mutation: at(
      MBN,
      'const varUse = ops.axpby(a * fN, m.variance, 1 - a, stats.variance)',
      'const varUse = ops.axpby(a * fS, m.variance, 1 - a, stats.variance)',
      "the stored variance's correction used to normalise",
    ),
  },
  {
    area: 'momentumBatchNorm',
    convention: 'the first update (`α_0 = 1`) replaces the running statistics',
    id: 'M3',
    law: 'momentumBn.initialStatsIrrelevant',
    mutation: at(
      MBN,
      'mean: ops.axpby(a, ops.mean(m.mean, [0, 1]), 1 - a, stats.mean),',
      'mean: ops.axpby(0.9 * a, ops.mean(m.mean, [0, 1]), 1 - 0.9 * a, stats.mean),',
      'the running mean keeps 10 % of its start',
    ),
  },
  {
    area: 'momentumBatchNorm',
    convention: 'the stored variance carries the claimed correction (`storedVariance`)',
    id: 'M7',
    law: 'momentumBn.storedVariance',
    mutation: at(
      MBN,
      'variance: ops.axpby(a * fS, ops.mean(m.variance, [0, 1]), 1 - a, stats.variance),',
      'variance: ops.axpby(a * fN, ops.mean(m.variance, [0, 1]), 1 - a, stats.variance),',
      "the normalising variance's correction stored",
    ),
  },
  {
    area: 'momentumBatchNorm',
    convention: '`referenceDoubleBessel` is `unbiasedTwice` for both variances (the reference code)',
    id: 'M7',
    law: 'momentumBn.storedVariance',
    mutation: at(MBN, "c.referenceDoubleBessel ? 'unbiasedTwice' : 'unbiased'", "c.referenceDoubleBessel ? 'unbiased' : 'unbiased'", 'the preset ignored'),
  },
  {
    area: 'momentumBatchNorm',
    convention: '`count` grows by 1 per train step',
    id: 'M7',
    law: 'momentumBn.storedVariance',
    mutation: at(MBN, BN_COUNT, 'count: ops.clone(stats.count),', 'the counter never moves'),
  },
  // ---------------------------------------------------------------- WeightAlign
  {
    area: 'weightAlign',
    convention: 'gain `G = √2` by default',
    id: 'W2',
    law: 'weightAlign.zeroMeanFixedNorm',
    mutation: at(WA, '{ gain: Math.SQRT2 as PositiveFinite,', '{ gain: 1 as PositiveFinite,', 'gain 1'),
  },
  {
    area: 'weightAlign',
    convention: 'scaled by `√N`, `N` the fan-in of a filter',
    id: 'W2',
    law: 'weightAlign.zeroMeanFixedNorm',
    mutation: at(WA, 'c.gain / Math.sqrt(fanIn)', 'c.gain / Math.sqrt(fanIn - 1)', '`√(N − 1)`'),
  },
  {
    area: 'weightAlign',
    convention: 'per output filter: the fan-in axes are every axis but the layout’s output axis',
    id: 'W1',
    law: 'weightAlign.zeroMeanFixedNorm',
    mutation: at(
      'src/norm/weightLayout.ts',
      'const OUT_AXIS: Record<WeightLayout, number> = { HWIO: 3, OIHW: 0,',
      'const OUT_AXIS: Record<WeightLayout, number> = { HWIO: 3, OIHW: 1,',
      'OIHW filters read along the input axis',
    ),
  },
  {
    area: 'weightAlign',
    convention: 'ε inside the root and the `N`: `√(N·(σ² + ε))`',
    id: 'W12',
    law: 'weightAlign.epsilonPlacement',
    mutation: at(
      WA,
      'ops.scale(gamma, c.gain / Math.sqrt(fanIn)), c.epsilon)',
      'ops.scale(gamma, c.gain / Math.sqrt(fanIn)), c.epsilon / fanIn)',
      '`√(N·σ² + ε)`',
    ),
  },
  // ---------------------------------------------------------------- weight standardisation
  {
    area: 'weightStandardization',
    convention: 'timm `StdConv2d` by default: biased variance, ε = 1e-6 inside the root',
    id: 'W13',
    law: 'weightStandardization.filterMoments',
    mutation: at(
      WS,
      "{ estimator: 'biased', epsilon: 1e-6 as Epsilon, epsilonPlacement: 'variance', layout: 'HWIO' }",
      "{ estimator: 'unbiased', epsilon: 1e-6 as Epsilon, epsilonPlacement: 'variance', layout: 'HWIO' }",
      'the unbiased variance by default',
    ),
  },
  {
    area: 'weightStandardization',
    convention: "`epsilonPlacement: 'variance'` is `√(σ² + ε)`, `'std'` is `σ + ε`",
    id: 'W13',
    law: 'weightStandardization.filterMoments',
    mutation: at(WS, "c.epsilonPlacement === 'variance' ?", "c.epsilonPlacement !== 'variance' ?", 'the two placements swapped'),
  },
  // ---------------------------------------------------------------- schedules
  {
    area: 'cosineToOne',
    convention: '0-based: `τ_0 = τ₀` at the first step',
    id: 'E14',
    law: 'schedule.endpoints',
    mutation: at(
      SCHED,
      'return (k) => 1 - ((1 - base) * (Math.cos((Math.PI * clampStep(k, K)) / K) + 1)) / 2',
      'return (k) => 1 - ((1 - base) * (Math.cos((Math.PI * clampStep(k + 1, K)) / K) + 1)) / 2',
      'a 1-based step count',
    ),
  },
  {
    area: 'cosineToOne',
    convention: 'clamped at 1 after `K` steps (the reference cosine swings back, P9)',
    id: 'E14',
    law: 'schedule.endpoints',
    mutation: at(
      SCHED,
      'const clampStep = (k: number, K: number): number => (k <= 0 ? 0 : k >= K ? K : k)',
      'const clampStep = (k: number, K: number): number => (k <= 0 ? 0 : k)',
      'no clamp after the horizon',
    ),
  },
  {
    area: 'cosineToOne',
    convention: '`τ_k = 1 − (1 − τ₀)(cos(πk/K) + 1)/2`',
    id: 'E16',
    law: 'schedule.closedForm',
    mutation: at(
      SCHED,
      'return (k) => 1 - ((1 - base) * (Math.cos((Math.PI * clampStep(k, K)) / K) + 1)) / 2',
      'return (k) => 1 - ((1 - base) * (Math.cos((Math.PI * clampStep(k, K)) / (2 * K)) + 1)) / 2',
      'a half-period cosine',
    ),
  },
  {
    area: 'warmup',
    convention: 'timm: `d_k = 1 − (1 + k/γ)^(−p)`, `p = 2/3`, clamped to `[minDecay, decay]`',
    id: 'E16',
    law: 'schedule.closedForm',
    mutation: at(SCHED, 'const power = options.power ?? 2 / 3', 'const power = options.power ?? 3 / 4', 'power 3/4 by default'),
  },
  {
    area: 'warmup',
    convention: 'timm counts from `1 + k` (0-based `k`)',
    id: 'E16',
    law: 'schedule.closedForm',
    mutation: at(
      SCHED,
      'const raw = 1 - (1 + Math.max(0, k) / gamma) ** -power',
      'const raw = 1 - (2 + Math.max(0, k) / gamma) ** -power',
      'counted from `2 + k`',
    ),
  },
  {
    area: 'constant',
    convention: 'the same decay at every step',
    id: 'E15',
    law: 'schedule.monotone',
    mutation: at(
      SCHED,
      "() => {\n    checkDecay('constant: decay', decay)\n    return decay",
      "(k) => {\n    checkDecay('constant: decay', decay)\n    return k > 0 ? decay : 0.99",
      'a different first step',
    ),
  },
  // ---------------------------------------------------------------- modules and models
  {
    area: 'modules',
    convention: 'a residual block adds its shortcut: `after(main(x) + shortcut(x))`',
    id: 'D4',
    law: 'model.paramsReachOutput',
    mutation: at(MODULE, 'const sum = ops.add(y, z)', 'const sum = y', 'the shortcut dropped'),
  },
  {
    area: 'modules',
    convention: "the shortcut's statistics are threaded to the next state",
    id: 'D1',
    law: 'model.shapes',
    mutation: at(MODULE, 'if (nonEmpty(ns)) next.shortcut = ns', '', "the shortcut's statistics lost"),
  },
  {
    area: 'modules',
    convention: 'the mode reaches every layer: eval mode normalises with the stored statistics deep inside',
    id: 'D3',
    law: 'model.batchIndependence.eval',
    mutation: at(
      MODULE,
      "atPath('shortcut', () => s.apply(childOf(params, 'shortcut'), childOf(stats, 'shortcut'), x, mode, ctx))",
      "atPath('shortcut', () => s.apply(childOf(params, 'shortcut'), childOf(stats, 'shortcut'), x, 'train', ctx))",
      'train mode inside the shortcuts',
    ),
  },
  {
    area: 'modules',
    convention: "a teacher's model (`withNorm`) puts its normalizer in every slot, shortcuts included",
    id: 'D3',
    law: 'model.batchIndependence.train',
    mutation: at(
      'src/nn/resnet.ts',
      'sequential({ conv: conv(out, { kernel: 1, stride }), norm: norm() })',
      "sequential({ conv: conv(out, { kernel: 1, stride }), norm: norm('batchNorm') })",
      'the shortcuts keep BatchNorm',
    ),
  },
]
