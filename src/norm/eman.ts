/**
 * EMAN: Exponential Moving Average Normalization (Cai et al., CVPR 2021).
 *
 * @module norm/eman
 */
import * as E from 'fp-ts/lib/Either.js'
import { type ConfigError, unsafe } from '../codecs/config.js'
import type { Ops } from '../core/ops.js'
import type { Leaf } from '../core/tree.js'
import { transition } from '../core/transition.js'
import { type TeacherUpdateConfig, teacherUpdate } from '../ema/teacher.js'
import {
  type BatchNormConfig,
  type BatchNormParams,
  type BatchNormSettings,
  type BatchNormStats,
  batchNormEval,
  batchNormFields,
  decodeBatchNormConfig,
  initBatchNormState,
} from './batchNorm.js'
import type { NormalizerDefinition } from './definition.js'
import type { Normalizer } from './normalizer.js'

/**
 * The EMAN teacher's normalizer: BatchNorm that always normalises with its (EMA) statistics,
 *
 *     y = γ'·(x − μ')/√(σ'² + ε) + β'
 *
 * in **both** modes (the teacher never uses batch statistics, so its output for one sample does not
 * depend on the rest of the batch), and never changes its statistics. They change only through the
 * teacher update `emanUpdate`, which averages them with the student's BatchNorm statistics:
 *
 *     μ' ← m·μ' + (1 − m)·μ_s,  σ'² ← m·σ'² + (1 − m)·σ²_s,  γ', β', weights likewise,  count' ← count_s
 *
 * The student uses ordinary train-mode `batchNorm`; the state layout is the same (`gamma`, `beta`,
 * `mean`, `variance`, `count`), so a student tree and its EMAN teacher tree pair leaf by leaf.
 * (amazon-science/exponential-moving-average-normalization, `models/byol.py` `momentum_update` and
 * `main_byol.py`; docs/methods.md) Config as `batchNorm` (its `decay` and `runningVariance` matter
 * only for the student's statistics, which the teacher inherits through the update).
 *
 * @example
 * const teacherBn = unsafeEman(ops)
 * const [y, same] = teacherBn.apply(x, 'train')(teacherState)   // eval-mode BN, stats unchanged
 */
export const eman = <T extends Leaf>(ops: Ops<T>, config: BatchNormConfig = {}): E.Either<ConfigError, Normalizer<T, BatchNormParams<T>, BatchNormStats<T>>> =>
  E.map((c: BatchNormSettings) => makeEman(ops, c))(decodeBatchNormConfig('eman config', config))

/** `eman` in the registry's terms: decode (io-ts), then build. */
export const emanDefinition: NormalizerDefinition<BatchNormSettings> = {
  kind: 'activation',
  name: 'eman',
  summary: "EMAN's teacher normalizer: eval-mode BatchNorm with EMA statistics in both modes",
  capabilities: { batchDependent: false, hasStats: true },
  fields: batchNormFields,
  decode: (config) => decodeBatchNormConfig('eman config', config),
  build: (ops, settings) => makeEman(ops, settings),
}

/** `eman` that throws the `ConfigError` instead of returning it. */
export const unsafeEman = <T extends Leaf>(ops: Ops<T>, config: BatchNormConfig = {}) => unsafe(eman(ops, config))

const makeEman = <T extends Leaf>(ops: Ops<T>, c: BatchNormSettings): Normalizer<T, BatchNormParams<T>, BatchNormStats<T>> => ({
  name: 'eman',
  init: (channels) => ops.tidy(() => initBatchNormState(ops, 'eman', channels)),
  apply: (x) => transition(ops, ({ params, stats }) => [batchNormEval(ops, 'eman', x, params, stats, c.epsilon), { params, stats }]),
})

/**
 * The EMAN teacher update: `teacherUpdate` with `emanPolicy` — every float leaf of the teacher's
 * state (weights, biases, γ, β, running mean and variance) becomes `m·teacher + (1 − m)·student`,
 * integer counters are copied.
 *
 * EMAN's reference schedules: MoCo and FixMatch use a constant `m = 0.999`; BYOL uses
 * `cosineToOne(0.98 or 0.996, K)`.
 *
 * @example
 * const update = unsafeEmanUpdate(ops, { decay: 0.999 })
 * const [, teacher1] = update(student, step)(teacher0)
 */
export const emanUpdate = <T extends Leaf>(ops: Ops<T>, config: Omit<TeacherUpdateConfig, 'policy' | 'prefixes' | 'others'>) =>
  teacherUpdate(ops, { ...config, policy: 'eman' }) // every option passes through (donate included)

/** `emanUpdate` that throws the `ConfigError` instead of returning it. */
export const unsafeEmanUpdate = <T extends Leaf>(ops: Ops<T>, config: Omit<TeacherUpdateConfig, 'policy' | 'prefixes' | 'others'>) =>
  unsafe(emanUpdate(ops, config))
