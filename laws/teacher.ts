/**
 * Teacher-update laws (docs/methods.md, E11), for any function that moves a teacher state toward a
 * student state under a per-leaf policy.
 *
 * @module laws/teacher
 */
import { FLOAT32_UNIT_ROUNDOFF } from '../src/core/tolerance.js'
import fc from 'fast-check'
import type { Ops } from '../src/core/ops.js'
import type { Leaf } from '../src/core/tree.js'
import type { Slots } from '../src/core/transition.js'
import type { LeafPolicy, TeacherPolicy } from '../src/ema/teacher.js'
import { type HostTensor, openDecayArb, shapeArb, spreadDataArb, tensorArb, uniformArb } from './arbitraries.js'
import { type Law, type LawTolerance, closeTo, evaluate, exactlyEqual, leavesInputsUntouched } from './law.js'

const U = FLOAT32_UNIT_ROUNDOFF

/** A teacher update under a policy `P`: the new teacher state from the student and the teacher (both borrowed). */
export type TeacherUpdateWith<P> = <T extends Leaf>(
  ops: Ops<T>,
  student: Slots<unknown, unknown>,
  teacher: Slots<unknown, unknown>,
  decay: number,
  policy: P,
) => Slots<unknown, unknown>

/** A teacher update under a per-leaf policy function. */
export type TeacherUpdateSubject = TeacherUpdateWith<TeacherPolicy>

/** A two-layer state: `backbone/{w,bn}` and `projector/{w}`, with an int32 counter in the BN stats. */
export interface TeacherHostState {
  readonly backboneW: HostTensor
  readonly projectorW: HostTensor
  readonly mean: HostTensor
  readonly count: number
}

const hostStateArb: fc.Arbitrary<TeacherHostState> = fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })).chain(([a, b]) =>
  fc.record({
    backboneW: tensorArb([a, b], spreadDataArb),
    projectorW: tensorArb([b], spreadDataArb),
    mean: tensorArb([b], spreadDataArb),
    count: fc.integer({ min: 0, max: 1000 }),
  }),
)

const pairArb = hostStateArb.chain((s) =>
  fc.tuple(
    fc.constant(s),
    fc.record({
      backboneW: tensorArb(s.backboneW.shape, spreadDataArb),
      projectorW: tensorArb(s.projectorW.shape, spreadDataArb),
      mean: tensorArb(s.mean.shape, spreadDataArb),
      count: fc.integer({ min: 0, max: 1000 }),
    }),
    openDecayArb,
  ),
)

const build = (ops: Ops<Leaf>, h: TeacherHostState) => ({
  params: { backbone: { w: ops.tensor(h.backboneW.data, h.backboneW.shape) }, projector: { w: ops.tensor(h.projectorW.data, h.projectorW.shape) } },
  stats: { backbone: { bn: { mean: ops.tensor(h.mean.data, h.mean.shape), count: ops.scalar(h.count, 'int32') } } },
})

type Built = ReturnType<typeof build>

/** Under a policy that keeps the backbone and averages the projector: kept leaves are bitwise the teacher's, averaged leaves are `d·t + (1−d)·s`. */
export const teacherKeepAndEma: Law<TeacherUpdateSubject, readonly [TeacherHostState, TeacherHostState, number]> = {
  name: 'teacher.keepAndEma',
  statement: "'keep' (and masked-out) leaves are exactly the teacher's input leaves; 'ema' leaves are d·teacher + (1−d)·student",
  arbitrary: () => pairArb.map(([t, s, d]) => [t, s, d] as const),
  predicate:
    (update, { ops, tolerance }) =>
    async ([t, s, d]) => {
      const policy: TeacherPolicy = (_slot, path) => (path.startsWith('projector') ? 'ema' : 'keep')
      const r = await evaluate(ops, () => {
        const next = update(ops, build(ops, s), build(ops, t), d, policy) as Built
        return { w: next.params.backbone.w, mean: next.stats.backbone.bn.mean, p: next.params.projector.w }
      })
      const want = t.projectorW.data.map((v, i) => d * v + (1 - d) * s.projectorW.data[i]!)
      const mag = Math.max(...t.projectorW.data.map(Math.abs), ...s.projectorW.data.map(Math.abs))
      return (
        exactlyEqual(r.w, t.backboneW.data.map(Math.fround)) &&
        exactlyEqual(r.mean, t.mean.data.map(Math.fround)) &&
        closeTo(r.p, want, { rtol: 0, atol: tolerance.atol + 4 * Math.max(U, tolerance.rtol) * mag })
      )
    },
}

/** Integer leaves (step counters) are copied from the student under an `ema` policy, never averaged, and stay int32 (E11). */
export const teacherIntegersCopied: Law<TeacherUpdateSubject, readonly [TeacherHostState, TeacherHostState, number]> = {
  name: 'teacher.integersCopied',
  statement: "integer leaves are copied from the student (value and int32 dtype) even when the policy says 'ema' (E11)",
  arbitrary: () => pairArb,
  predicate:
    (update, { ops }) =>
    async ([t, s, d]) => {
      let dtype = ''
      const r = await evaluate(ops, () => {
        const next = update(ops, build(ops, s), build(ops, t), d, () => 'ema') as Built
        dtype = next.stats.backbone.bn.count.dtype
        return { count: next.stats.backbone.bn.count }
      })
      return dtype === 'int32' && r.count[0] === s.count
    },
}

/** A student whose paths or shapes differ from the teacher's is rejected (the update throws). */
export const teacherRejectsMismatch: Law<TeacherUpdateSubject, readonly [TeacherHostState, number, 'missing' | 'shape']> = {
  name: 'teacher.rejectsMismatch',
  statement: 'a student with a missing path or a leaf of another shape is rejected with an error, never silently paired by position',
  arbitrary: () => fc.tuple(hostStateArb, openDecayArb, fc.constantFrom('missing' as const, 'shape' as const)),
  predicate:
    (update, { ops }) =>
    async ([h, d, kind]) => {
      try {
        ops.tidy(() => {
          const teacher = build(ops, h)
          const good = build(ops, h)
          const student =
            kind === 'missing'
              ? { params: { backbone: good.params.backbone }, stats: good.stats }
              : { ...good, params: { ...good.params, projector: { w: ops.zeros([h.projectorW.shape[0]! + 1]) } } }
          update(ops, student, teacher, d, () => 'ema')
        })
        return false
      } catch {
        return true
      }
    },
}

/**
 * EMAN's double EMA (N5): the student's BN running mean follows `r_t = q·r_{t−1} + (1−q)·c` for
 * constant batch statistics `c` (q = the student BN decay), and the EMAN teacher averages it each
 * step with decay `m`; after `T` steps
 *
 *     μ'_T = c + (μ'_0 − c)·m^T + (r_0 − c)·(1−m)·q·(m^T − q^T)/(m − q)      (m ≠ q)
 */
export const teacherEmanDoubleEma: Law<TeacherUpdateSubject, readonly [number, number, number, number, number, number]> = {
  name: 'teacher.emanDoubleEma',
  statement: "EMAN teacher statistics after T steps equal the double-EMA closed form c + (μ'0 − c)m^T + (r0 − c)(1−m)q(m^T − q^T)/(m − q) (N5)",
  arbitrary: () =>
    fc
      .tuple(
        fc.constantFrom(0.9, 0.99, 0.5, 0.8),
        fc.constantFrom(0.9, 0.7, 0.5),
        fc.integer({ min: 1, max: 20 }),
        uniformArb(-5, 5),
        uniformArb(-5, 5),
        uniformArb(-5, 5),
      )
      .filter(([m, q]) => m !== q),
  predicate:
    (update, { ops, tolerance }) =>
    async ([m, q, T, c, r0, mu0]) => {
      const r = await evaluate(ops, () => {
        let r = Math.fround(r0)
        let teacher: Slots<unknown, unknown> = { params: {}, stats: { bn: { mean: ops.tensor([mu0], [1]) } } }
        for (let t = 0; t < T; t++) {
          r = q * r + (1 - q) * c // the student's BN step comes before the EMA step
          const student = { params: {}, stats: { bn: { mean: ops.tensor([r], [1]) } } }
          teacher = update(ops, student, teacher, m, () => 'ema')
        }
        return { mean: (teacher.stats as { bn: { mean: Leaf } }).bn.mean }
      })
      const mf = ops.name === 'reference' ? m : Math.fround(m)
      const r0f = Math.fround(r0)
      const mu0f = Math.fround(mu0)
      const want = c + (mu0f - c) * mf ** T + ((r0f - c) * (1 - mf) * q * (mf ** T - q ** T)) / (mf - q)
      return closeTo(r.mean, [want], { rtol: Math.max(tolerance.rtol, 1e-5), atol: 1e-5 * Math.max(1, Math.abs(c), Math.abs(r0), Math.abs(mu0)) })
    },
}

// -------------------------------------------------------------------------------------------------
// path-agnostic laws: random trees, random names, every policy

/** Names that real models use and that a buggy update might key on, plus arbitrary ones. */
const LEAF_NAMES = [
  'norm',
  'running_mean',
  'running_var',
  'num_batches_tracked',
  'bn1',
  'downsample.1',
  'weight',
  'bias',
  'layer1',
  'conv',
  'projector',
  'head',
  'w',
  'gamma',
  'beta',
  'mean',
  'variance',
  'count',
  '0',
]

/** A host tree: a float or int32 leaf, an object, or an array. */
export type HostTree =
  | { readonly kind: 'float'; readonly tensor: HostTensor }
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'object'; readonly entries: ReadonlyArray<readonly [string, HostTree]> }
  | { readonly kind: 'array'; readonly items: readonly HostTree[] }

const nameArb = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...LEAF_NAMES) }, { weight: 1, arbitrary: fc.stringMatching(/^[a-z][a-z0-9_.]{0,7}$/) })

const hostTreeArb: fc.Arbitrary<HostTree> = fc.letrec<{ tree: HostTree; node: HostTree; leaf: HostTree }>((tie) => ({
  leaf: fc.oneof(
    {
      weight: 4,
      arbitrary: shapeArb(0, 2, 3)
        .chain((shape) => tensorArb(shape, spreadDataArb))
        .map((tensor) => ({ kind: 'float' as const, tensor })),
    },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 10_000 }).map((value) => ({ kind: 'int' as const, value })) },
  ),
  node: fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .uniqueArray(fc.tuple(nameArb, tie('tree')), { minLength: 1, maxLength: 3, selector: ([k]) => k })
        .map((entries) => ({ kind: 'object' as const, entries })),
    },
    { weight: 1, arbitrary: fc.array(tie('tree'), { minLength: 1, maxLength: 2 }).map((items) => ({ kind: 'array' as const, items })) },
  ),
  tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('leaf'), tie('node')),
})).node

/** The same structure with other values: the student of a teacher tree. */
const sameShapeArb = (t: HostTree): fc.Arbitrary<HostTree> => {
  switch (t.kind) {
    case 'float':
      return tensorArb(t.tensor.shape, spreadDataArb).map((tensor) => ({ kind: 'float' as const, tensor }))
    case 'int':
      return fc.integer({ min: 0, max: 10_000 }).map((value) => ({ kind: 'int' as const, value }))
    case 'object':
      return fc
        .tuple(...t.entries.map(([, v]) => sameShapeArb(v)))
        .map((vs) => ({ kind: 'object' as const, entries: t.entries.map(([k], i) => [k, vs[i]!] as const) }))
    case 'array':
      return fc.tuple(...t.items.map(sameShapeArb)).map((items) => ({ kind: 'array' as const, items }))
  }
}

/** Every leaf of a host tree with its path, in polyak's path syntax (`a/0/b`). */
export const hostLeaves = (t: HostTree, path = ''): Array<readonly [string, Extract<HostTree, { kind: 'float' | 'int' }>]> => {
  const join = (k: string | number): string => (path === '' ? String(k) : `${path}/${k}`)
  switch (t.kind) {
    case 'float':
    case 'int':
      return [[path, t]]
    case 'object':
      return t.entries.flatMap(([k, v]) => hostLeaves(v, join(k)))
    case 'array':
      return t.items.flatMap((v, i) => hostLeaves(v, join(i)))
  }
}

const buildTree = (ops: Ops<Leaf>, t: HostTree): unknown => {
  switch (t.kind) {
    case 'float':
      return ops.tensor(t.tensor.data, t.tensor.shape)
    case 'int':
      return ops.scalar(t.value, 'int32')
    case 'object':
      return Object.fromEntries(t.entries.map(([k, v]) => [k, buildTree(ops, v)]))
    case 'array':
      return t.items.map((v) => buildTree(ops, v))
  }
}

const leafAt = (tree: unknown, path: string): Leaf =>
  (path === '' ? tree : path.split('/').reduce<unknown>((n, k) => (n as Record<string, unknown>)[k], tree)) as Leaf

/** A teacher and a student of the same random structure (params and stats), a policy per leaf, and a decay. */
export interface RandomTeacherPair {
  readonly teacher: { readonly params: HostTree; readonly stats: HostTree }
  readonly student: { readonly params: HostTree; readonly stats: HostTree }
  readonly policies: ReadonlyMap<string, LeafPolicy>
  readonly decay: number
}

const randomPairArb: fc.Arbitrary<RandomTeacherPair> = fc.tuple(hostTreeArb, hostTreeArb).chain(([params, stats]) =>
  fc.tuple(sameShapeArb(params), sameShapeArb(stats), openDecayArb).chain(([sp, ss, decay]) => {
    const keys = [...hostLeaves(params).map(([p]) => `params:${p}`), ...hostLeaves(stats).map(([p]) => `stats:${p}`)]
    return fc
      .array(fc.constantFrom<LeafPolicy>('ema', 'copy', 'keep'), { minLength: keys.length, maxLength: keys.length })
      .map((ps) => ({ teacher: { params, stats }, student: { params: sp, stats: ss }, policies: new Map(keys.map((k, i) => [k, ps[i]!])), decay }))
  }),
)

/** The updated teacher's leaves at the teacher's paths, read back: what `matchesPolicy` checks. */
const updatedLeaves = async (
  ops: Ops<Leaf>,
  pair: { readonly teacher: { params: HostTree; stats: HostTree }; readonly student: { params: HostTree; stats: HostTree } },
  update: (student: Slots<unknown, unknown>, teacher: Slots<unknown, unknown>) => Slots<unknown, unknown>,
): Promise<number[][]> =>
  evaluate(ops, () => {
    const next = update(
      { params: buildTree(ops, pair.student.params), stats: buildTree(ops, pair.student.stats) },
      { params: buildTree(ops, pair.teacher.params), stats: buildTree(ops, pair.teacher.stats) },
    )
    return SLOTS.flatMap((slot) => hostLeaves(pair.teacher[slot]).map(([path]) => leafAt(next[slot], path)))
  })

const SLOTS = ['params', 'stats'] as const

/**
 * Whether `got` (the leaves `updatedLeaves` read) treats every leaf by `policyOf`: `keep` → the
 * teacher's (bitwise), `copy` → the student's (bitwise), `ema` → `d·t + (1−d)·s` for floats and
 * the student's value for integers (E11).
 */
const matchesPolicy = (
  got: readonly number[][],
  pair: { readonly teacher: { params: HostTree; stats: HostTree }; readonly student: { params: HostTree; stats: HostTree }; readonly decay: number },
  policyOf: (slot: 'params' | 'stats', path: string) => LeafPolicy,
  tolerance: LawTolerance,
): boolean => {
  let k = 0
  for (const slot of SLOTS) {
    const studentLeaves = hostLeaves(pair.student[slot])
    for (const [i, [path, t]] of hostLeaves(pair.teacher[slot]).entries()) {
      const g = got[k++]!
      const s = studentLeaves[i]![1]
      const p = policyOf(slot, path)
      if (t.kind === 'int' || s.kind === 'int') {
        const want = p === 'keep' ? (t as { value: number }).value : (s as { value: number }).value
        if (g[0] !== want) return false
        continue
      }
      const tv = t.tensor.data.map(Math.fround)
      const sv = s.tensor.data.map(Math.fround)
      if (p === 'keep' && !exactlyEqual(g, tv)) return false
      if (p === 'copy' && !exactlyEqual(g, sv)) return false
      if (p === 'ema') {
        const d = pair.decay
        const mag = Math.max(0, ...tv.map(Math.abs), ...sv.map(Math.abs))
        if (
          !closeTo(
            g,
            tv.map((v, j) => d * v + (1 - d) * sv[j]!),
            { rtol: 0, atol: tolerance.atol + 4 * Math.max(U, tolerance.rtol) * mag },
          )
        )
          return false
      }
    }
  }
  return true
}

/**
 * Under any per-leaf policy, on trees of any shape and any leaf names: `keep` leaves are the
 * teacher's (bitwise), `copy` leaves the student's (bitwise), `ema` float leaves
 * `d·teacher + (1−d)·student`, and integer leaves under `ema` the student's (E11). The leaf names
 * are drawn from names real models use (`norm`, `running_mean`, `bn1`, `downsample.1`, …) and
 * random ones, so an update keyed on a name is caught.
 */
export const teacherPerLeafPolicy: Law<TeacherUpdateSubject, RandomTeacherPair> = {
  name: 'teacher.perLeafPolicy',
  statement:
    "on random trees with any leaf names: keep → teacher's leaf, copy → student's leaf (bitwise), ema → d·t + (1−d)·s for floats and the student's value for integers (E18)",
  arbitrary: () => randomPairArb,
  predicate:
    (update, { ops, tolerance }) =>
    async (pair) => {
      const policyOf = (slot: 'params' | 'stats', path: string): LeafPolicy => {
        const p = pair.policies.get(`${slot}:${path}`)
        if (p === undefined) throw new Error(`the update asked for the policy of '${slot}:${path}', which is not a leaf of the teacher`)
        return p
      }
      const got = await updatedLeaves(ops, pair, (student, teacher) => update(ops, student, teacher, pair.decay, policyOf))
      return matchesPolicy(got, pair, policyOf, tolerance)
    },
}

// -------------------------------------------------------------------------------------------------
// the named policies

/** The teacher policies polyak names (`teacherUpdate`'s `policy` strings and the exported functions). */
export type TeacherPresetName = 'eman' | 'weightsOnly' | 'paramsEmaStatsCopy' | 'projectorOnly'

/** A preset with its options, as `teacherUpdate`'s config takes it. */
export interface TeacherPreset {
  readonly name: TeacherPresetName
  /** `projectorOnly`: the path prefixes that are averaged. */
  readonly prefixes?: readonly string[]
  /** `projectorOnly`: what the other leaves do (absent: the preset's default, `copy`). */
  readonly others?: 'copy' | 'keep'
}

/** Named teacher policies under test: the presets a subject implements, and one update with a preset. */
export interface TeacherPresetSubject {
  readonly presets: readonly TeacherPresetName[]
  readonly update: TeacherUpdateWith<TeacherPreset>
}

/**
 * What each preset does to a leaf at `path` of `slot` (docs/methods.md, "Teacher updates"): EMAN
 * averages everything; MoCo/BYOL/Momentum² (`weightsOnly`) average the parameters and keep the
 * teacher's statistics; AveragedModel (`paramsEmaStatsCopy`) copies the statistics; projector-only
 * averages the leaves at or under a prefix (a whole path segment: `projector` does not select
 * `projector2`) and copies (default) or keeps the others, in both slots.
 */
export const presetPolicy = (preset: TeacherPreset): ((slot: 'params' | 'stats', path: string) => LeafPolicy) => {
  switch (preset.name) {
    case 'eman':
      return () => 'ema'
    case 'weightsOnly':
      return (slot) => (slot === 'params' ? 'ema' : 'keep')
    case 'paramsEmaStatsCopy':
      return (slot) => (slot === 'params' ? 'ema' : 'copy')
    case 'projectorOnly':
      return (_slot, path) => ((preset.prefixes ?? []).some((p) => path === p || path.startsWith(`${p}/`)) ? 'ema' : (preset.others ?? 'copy'))
  }
}

/** A teacher whose parameters hold a prefix `K`, a sibling whose name extends it (`K2`) and a backbone; statistics under `K` and the backbone. */
const presetPairArb = (presets: readonly TeacherPresetName[]) =>
  fc
    .tuple(
      fc.constantFrom('projector', 'predictor', 'head', 'layer1'),
      fc.constantFrom('2', '_ema', '.1', 's'),
      fc.tuple(hostTreeArb, hostTreeArb, hostTreeArb, hostTreeArb, hostTreeArb),
    )
    .chain(([k, suffix, [a, b, c, d, e]]) => {
      const params: HostTree = {
        kind: 'object',
        entries: [
          [k, a],
          [k + suffix, b],
          ['backbone', c],
        ],
      }
      const stats: HostTree = {
        kind: 'object',
        entries: [
          [k, d],
          ['backbone', e],
        ],
      }
      return fc.record({
        teacher: fc.constant({ params, stats }),
        student: fc.record({ params: sameShapeArb(params), stats: sameShapeArb(stats) }),
        decay: openDecayArb,
        preset: fc
          .tuple(fc.constantFrom(...presets), fc.constantFrom(undefined, 'copy' as const, 'keep' as const))
          .map(([name, others]): TeacherPreset => (name === 'projectorOnly' ? { name, prefixes: [k], ...(others === undefined ? {} : { others }) } : { name })),
      })
    })

/**
 * Each named policy treats every leaf as documented (E17): `eman` → every leaf `ema`;
 * `weightsOnly` → parameters `ema`, statistics `keep`; `paramsEmaStatsCopy` → parameters `ema`,
 * statistics `copy`; `projectorOnly(prefixes, others = 'copy')` → leaves at or under a prefix
 * `ema` (whole segments), the rest `others`. Integer leaves under `ema` are copied (E11).
 */
export const teacherPresets: Law<
  TeacherPresetSubject,
  { teacher: { params: HostTree; stats: HostTree }; student: { params: HostTree; stats: HostTree }; decay: number; preset: TeacherPreset }
> = {
  name: 'teacher.presets',
  statement:
    'eman: every leaf ema; weightsOnly: params ema, stats keep; paramsEmaStatsCopy: params ema, stats copy; projectorOnly(prefixes, others = copy): leaves at or under a prefix (whole segments) ema, the rest others (E17)',
  arbitrary: (subject) => presetPairArb(subject.presets),
  predicate:
    (subject, { ops, tolerance }) =>
    async (pair) => {
      const got = await updatedLeaves(ops, pair, (student, teacher) => subject.update(ops, student, teacher, pair.decay, pair.preset))
      return matchesPolicy(got, pair, presetPolicy(pair.preset), tolerance)
    },
}

/** The update leaves the student and the teacher it was given untouched, bitwise, and alive, on random trees under any policy (E12). */
export const teacherInputsUntouched: Law<TeacherUpdateSubject, RandomTeacherPair> = {
  name: 'teacher.inputsUntouched',
  statement: 'update(student, teacher) leaves every leaf of both inputs as it was, bitwise, and alive: the new teacher is fresh (E12)',
  arbitrary: () => randomPairArb,
  predicate:
    (update, { ops }) =>
    async (pair) => {
      const policy: TeacherPolicy = (slot, path) => pair.policies.get(`${slot}:${path}`) ?? 'ema'
      const student = { params: buildTree(ops, pair.student.params), stats: buildTree(ops, pair.student.stats) }
      const teacher = { params: buildTree(ops, pair.teacher.params), stats: buildTree(ops, pair.teacher.stats) }
      const inputs = [...tensorsOf(student), ...tensorsOf(teacher)]
      try {
        return await leavesInputsUntouched(ops, inputs, () => update(ops, student, teacher, pair.decay, policy))
      } finally {
        inputs.forEach((t) => ops.dispose(t))
      }
    },
}

const tensorsOf = (slots: { params: unknown; stats: unknown }): Leaf[] => {
  const out: Leaf[] = []
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) x.forEach(walk)
    else if (x !== null && typeof x === 'object' && !('shape' in x)) Object.values(x).forEach(walk)
    else out.push(x as Leaf)
  }
  walk(slots.params)
  walk(slots.stats)
  return out
}

/** The teacher-update laws. */
export const teacherLaws = [
  teacherKeepAndEma,
  teacherIntegersCopied,
  teacherRejectsMismatch,
  teacherEmanDoubleEma,
  teacherPerLeafPolicy,
  teacherInputsUntouched,
] as const

/** The laws of the named teacher policies. */
export const teacherPresetLaws = [teacherPresets] as const
