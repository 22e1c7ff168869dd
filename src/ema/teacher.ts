/**
 * Teacher updates: the teacher's state moves toward the student's, leaf by leaf, under a policy.
 *
 *     ema:  θ'_leaf ← d·θ'_leaf + (1 − d)·θ_leaf      (d = decay, weight on the OLD teacher value)
 *     copy: θ'_leaf ← θ_leaf
 *     keep: θ'_leaf unchanged
 *
 * Student and teacher are paired **by path** (not by position, docs/methods.md P7) with equal shapes
 * and dtypes asserted; integer leaves (step counters such as BatchNorm's `count`, PyTorch's
 * `num_batches_tracked`) are copied whenever the policy says `ema`: never averaged (E11, P3).
 *
 * Presets (docs/methods.md): `emanPolicy` (EMAN, timm `ModelEmaV3` default), `weightsOnly`
 * (MoCo / BYOL / solo-learn / Momentum² Teacher: statistics are the teacher's own),
 * `paramsEmaStatsCopy` (`AveragedModel` with `use_buffers=False`), `projectorOnly(predicate)`.
 *
 * @module ema/teacher
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { type ConfigError, type ConfigIssue, type Decoded, DecaySpec, decodeConfig, unsafe } from '../codecs/config.js'
import { DtypeMismatchError } from '../core/errors.js'
import { assertLive, cloneTree } from '../core/memory.js'
import type { Ops } from '../core/ops.js'
import { type Leaf, type PathPredicate, type Tree, mapAny, underPrefix, zipWith } from '../core/tree.js'
import { type Slots, type Transition, transition } from '../core/transition.js'
import { emaLeaves } from './ema.js'
import { decayAt } from './schedules.js'

/** What happens to one teacher leaf in an update. */
export type LeafPolicy = 'ema' | 'copy' | 'keep'

/** Which slot a leaf lives in. */
export type SlotName = 'params' | 'stats'

/**
 * Chooses the policy of a leaf from its slot and its path inside the slot (e.g.
 * `('stats', 'backbone/bn1/mean')`). Integer leaves get `copy` whenever this says `ema`.
 */
export type TeacherPolicy = (slot: SlotName, path: string) => LeafPolicy

/** EMAN: every float leaf, parameters and BatchNorm running statistics alike, is averaged; counters copied. */
export const emanPolicy: TeacherPolicy = () => 'ema'

/** MoCo / BYOL / solo-learn / Momentum² Teacher: parameters averaged, the teacher's statistics kept. */
export const weightsOnly: TeacherPolicy = (slot) => (slot === 'params' ? 'ema' : 'keep')

/** `torch.optim.swa_utils.AveragedModel` with `use_buffers=False`: parameters averaged, statistics copied from the student. */
export const paramsEmaStatsCopy: TeacherPolicy = (slot) => (slot === 'params' ? 'ema' : 'copy')

/**
 * Projector-only momentum (Pham et al. 2022): leaves under the projector (`predicate(path)`) are
 * averaged, parameters and statistics alike; every other leaf is `others` — by default `copy`,
 * because in that method the momentum branch shares the online backbone (its features are the
 * online ones under stop-gradient), so the teacher's backbone IS the student's.
 *
 * @example
 * projectorOnly(underPrefix('projector'))
 */
export const projectorOnly =
  (predicate: PathPredicate, others: 'copy' | 'keep' = 'copy'): TeacherPolicy =>
  (_slot, path) =>
    predicate(path) ? 'ema' : others

/** The policy presets by name: what a JSON config (`polyak apply`) can name. */
export type TeacherPolicyName = 'eman' | 'weightsOnly' | 'paramsEmaStatsCopy' | 'projectorOnly'

/** Configuration of `teacherUpdate`. */
export interface TeacherUpdateConfig {
  /** Decay (weight on the old teacher value) or a schedule of it, evaluated at the `step` passed to the update. */
  readonly decay: DecaySpec
  /**
   * Per-leaf policy: a function, or a preset by name (default `'eman'`); `'projectorOnly'` averages
   * the leaves under `prefixes` and treats the others as `others`.
   */
  readonly policy?: TeacherPolicy | TeacherPolicyName
  /** Path prefixes averaged by the `'projectorOnly'` preset, e.g. `['projector']`. */
  readonly prefixes?: readonly string[]
  /** What the `'projectorOnly'` preset does to the other leaves, default `'copy'`. */
  readonly others?: 'copy' | 'keep'
  /**
   * Buffer donation: the caller promises the teacher state passed to the update is dead (it will
   * be disposed right after, as the drivers and pipelines do), so `ema` leaves may be updated in
   * the teacher's own storage where the backend can (cpu, wasm, webgpu). A leaf whose storage
   * another tensor shares, or a tensor at two paths (tied weights), is never written in place.
   * Default `false`: inputs untouched.
   */
  readonly donate?: boolean
}

const POLICY_NAMES: readonly TeacherPolicyName[] = ['eman', 'weightsOnly', 'paramsEmaStatsCopy', 'projectorOnly']
const PolicyC = new t.Type<TeacherPolicy | TeacherPolicyName, unknown, unknown>(
  'TeacherPolicy',
  (u): u is TeacherPolicy | TeacherPolicyName => typeof u === 'function' || POLICY_NAMES.includes(u as TeacherPolicyName),
  (u, c) => (typeof u === 'function' || POLICY_NAMES.includes(u as TeacherPolicyName) ? t.success(u as TeacherPolicy) : t.failure(u, c)),
  t.identity,
)

/** The config codecs of `teacherUpdate`. */
export const teacherUpdateFields = {
  decay: DecaySpec,
  policy: PolicyC,
  prefixes: t.union([t.array(t.string), t.undefined]),
  others: t.keyof({ copy: null, keep: null }),
  donate: t.boolean,
}

const policyIssues = (c: Decoded<typeof teacherUpdateFields>): ConfigIssue[] => {
  if (c.policy === 'projectorOnly' && (c.prefixes === undefined || c.prefixes.length === 0)) {
    return [
      { field: 'prefixes', value: c.prefixes, message: 'policy \'projectorOnly\' needs prefixes: a non-empty array of path prefixes, e.g. ["projector"]' },
    ]
  }
  if (c.policy !== 'projectorOnly' && c.prefixes !== undefined) {
    return [{ field: 'prefixes', value: c.prefixes, message: "prefixes belong to policy 'projectorOnly'" }]
  }
  return []
}

const resolvePolicy = (c: Decoded<typeof teacherUpdateFields>): TeacherPolicy => {
  switch (c.policy) {
    case 'eman':
      return emanPolicy
    case 'weightsOnly':
      return weightsOnly
    case 'paramsEmaStatsCopy':
      return paramsEmaStatsCopy
    case 'projectorOnly':
      return projectorOnly(underPrefix(...c.prefixes!), c.others)
    default:
      return c.policy
  }
}

/** A configured teacher update: given the student's slots (borrowed) and the step, a transition on the teacher's slots. */
export type TeacherUpdate = <P, S>(student: Slots<P, S>, step?: number) => Transition<P, S, TeacherUpdateReport>

/** What a teacher update reports: the decay it used and how many leaves got each policy. */
export interface TeacherUpdateReport {
  readonly decay: number
  readonly ema: number
  readonly copy: number
  readonly keep: number
}

/** One leaf's part in an update, between the planning walk and the one that builds the result (a class: a tree walk sees it as a leaf). */
class LeafPlan<T> {
  constructor(
    readonly policy: LeafPolicy,
    readonly teacher: T,
    readonly student: T,
  ) {}
}

const isIntegerDtype = (dtype: string): boolean => dtype === 'int32' || dtype === 'int64' || dtype === 'bool'

/**
 * The teacher update as a transition on the teacher's slots, given the student's slots (borrowed)
 * and the training step `step` (for a decay schedule; default 0).
 *
 * Errors name the first leaf at fault: a path missing on one side (`TreeStructureError`), different
 * shapes (`ShapeMismatchError`) or dtypes (`DtypeMismatchError`), a disposed student leaf
 * (`DisposedTensorError`, path prefixed `student/`).
 *
 * @example
 * const update = unsafeTeacherUpdate(ops, { decay: cosineToOne(0.996, totalSteps), policy: 'eman' })
 * const [report, teacher1] = update(student, step)(teacher0)
 */
export const teacherUpdate = <T extends Leaf>(ops: Ops<T>, config: TeacherUpdateConfig): E.Either<ConfigError, TeacherUpdate> =>
  E.map((c: Decoded<typeof teacherUpdateFields>) => makeTeacherUpdate(ops, c.decay, resolvePolicy(c), c.donate))(
    decodeConfig('teacherUpdate config', teacherUpdateFields, TEACHER_DEFAULTS, config, policyIssues),
  )

/** `teacherUpdate` that throws the `ConfigError` instead of returning it. */
export const unsafeTeacherUpdate = <T extends Leaf>(ops: Ops<T>, config: TeacherUpdateConfig): TeacherUpdate => unsafe(teacherUpdate(ops, config))

const TEACHER_DEFAULTS = { decay: undefined as never, policy: 'eman' as const, prefixes: undefined, others: 'copy' as const, donate: false }

const makeTeacherUpdate =
  <T extends Leaf>(ops: Ops<T>, decaySpec: DecaySpec, policy: TeacherPolicy, donate: boolean): TeacherUpdate =>
  <P, S>(student: Slots<P, S>, step = 0): Transition<P, S, TeacherUpdateReport> =>
    transition(ops, (teacher: Slots<P, S>) => {
      assertLive(ops, student.params, 'student/params')
      assertLive(ops, student.stats, 'student/stats')
      const decay = decayAt(decaySpec, step, 'teacherUpdate: decay')
      const counts = { ema: 0, copy: 0, keep: 0 }
      // first every leaf's policy (structure, shapes and dtypes checked before anything is computed),
      // then one multi-tensor EMA over every 'ema' leaf of both slots: a few dispatches on webgpu
      const teachers: T[] = []
      const students: T[] = []
      const plan = (name: SlotName, teacherSlot: unknown, studentSlot: unknown): unknown =>
        zipWith<Tree<T>, T, LeafPlan<T>>(
          teacherSlot as Tree<T>,
          studentSlot as Tree<T>,
          (tl, sl, fullPath) => {
            if (tl.dtype !== sl.dtype) {
              throw new DtypeMismatchError(fullPath, `teacher is ${tl.dtype}, student is ${sl.dtype}`)
            }
            const path = fullPath.slice(name.length + 1)
            let p = policy(name, path)
            if (p === 'ema' && isIntegerDtype(tl.dtype)) p = 'copy'
            counts[p] += 1
            if (p === 'ema') {
              teachers.push(tl)
              students.push(sl)
            }
            return new LeafPlan(p, tl, sl)
          },
          { root: name, names: ['teacher', 'student'] },
        )
      const paramsPlan = plan('params', teacher.params, student.params)
      const statsPlan = plan('stats', teacher.stats, student.stats)
      const averaged = emaLeaves(ops, teachers, students, decay, donate)
      let next = 0
      const carry = (tree: unknown): unknown =>
        mapAny(tree, (leaf) => {
          const { policy: p, teacher: tl, student: sl } = leaf as LeafPlan<T>
          return p === 'keep' ? tl : p === 'copy' ? ops.clone(sl) : averaged[next++]
        })
      const params = carry(paramsPlan) as P
      const stats = carry(statsPlan) as S
      return [
        { decay, ...counts },
        { params, stats },
      ]
    })

/**
 * A teacher initialised as a deep copy of the student's complete state (parameters, statistics and
 * counters), so step 0 is well defined for any student, pretrained or not (docs/methods.md, P6).
 */
export const initTeacher = <T extends Leaf, P, S>(ops: Ops<T>, student: Slots<P, S>): Slots<P, S> => {
  assertLive(ops, student.params, 'student/params')
  assertLive(ops, student.stats, 'student/stats')
  return {
    params: cloneTree(ops, student.params as Tree<T>) as P,
    stats: cloneTree(ops, student.stats as Tree<T>) as S,
  }
}
