import { expect } from 'vitest'
import {
  DisposedTensorError,
  DtypeMismatchError,
  type Leaf,
  type Ops,
  ShapeMismatchError,
  TreeStructureError,
  cosineToOne,
  emanPolicy,
  initTeacher,
  paramsEmaStatsCopy,
  projectorOnly,
  unsafeTeacherUpdate,
  underPrefix,
  weightsOnly,
} from 'polyak'
import { describeEachBackend, itOn } from '../support/backends.js'

const state = <T extends Leaf>(ops: Ops<T>, w: number, mean: number, count: number) => ({
  params: {
    backbone: { conv: { weight: ops.fill([2, 2], w) }, bn: { gamma: ops.fill([2], w), beta: ops.fill([2], 0) } },
    projector: { dense: { weight: ops.fill([2], w) } },
  },
  stats: {
    backbone: { bn: { mean: ops.fill([2], mean), variance: ops.fill([2], 1), count: ops.scalar(count, 'int32') } },
    projector: {},
  },
})

describeEachBackend('teacherUpdate', (b) => {
  const it = itOn(b)
  const first = async (ops: Ops<Leaf>, t: Leaf) => (await ops.read(t))[0]

  it('emanPolicy averages every float leaf (weights, γ/β, running stats) and copies the integer counter', async (ops) => {
    const student = state(ops, 1, 2, 7)
    const teacher = state(ops, 0, 0, 3)
    const [report, t1] = unsafeTeacherUpdate(ops, { decay: 0.75, policy: emanPolicy })(student)(teacher)
    expect(await first(ops, t1.params.backbone.conv.weight)).toBeCloseTo(0.25, 6)
    expect(await first(ops, t1.params.projector.dense.weight)).toBeCloseTo(0.25, 6)
    expect(await first(ops, t1.stats.backbone.bn.mean)).toBeCloseTo(0.5, 6)
    expect(t1.stats.backbone.bn.count.dtype).toBe('int32')
    expect(await first(ops, t1.stats.backbone.bn.count)).toBe(7)
    expect(report).toEqual({ decay: 0.75, ema: 6, copy: 1, keep: 0 })
  })

  it('weightsOnly keeps the teacher statistics bitwise; paramsEmaStatsCopy copies the student ones', async (ops) => {
    const student = state(ops, 1, 2, 7)
    const teacher = state(ops, 0, 0.3, 3)
    const [, kept] = unsafeTeacherUpdate(ops, { decay: 0.5, policy: weightsOnly })(student)(teacher)
    expect(await first(ops, kept.stats.backbone.bn.mean)).toBe(await first(ops, teacher.stats.backbone.bn.mean))
    expect(await first(ops, kept.stats.backbone.bn.count)).toBe(3)
    expect(await first(ops, kept.params.backbone.conv.weight)).toBeCloseTo(0.5, 6)
    const [, copied] = unsafeTeacherUpdate(ops, { decay: 0.5, policy: paramsEmaStatsCopy })(student)(teacher)
    expect(await first(ops, copied.stats.backbone.bn.mean)).toBe(2)
  })

  it('projectorOnly averages the projector and copies the backbone (shared in that method)', async (ops) => {
    const student = state(ops, 1, 2, 7)
    const teacher = state(ops, 0, 0, 3)
    const [, t1] = unsafeTeacherUpdate(ops, { decay: 0.9, policy: projectorOnly(underPrefix('projector')) })(student)(teacher)
    expect(await first(ops, t1.params.projector.dense.weight)).toBeCloseTo(0.1, 6)
    expect(await first(ops, t1.params.backbone.conv.weight)).toBe(1)
    const [, t2] = unsafeTeacherUpdate(ops, { decay: 0.9, policy: projectorOnly(underPrefix('projector'), 'keep') })(student)(teacher)
    expect(await first(ops, t2.params.backbone.conv.weight)).toBe(0)
  })

  it('evaluates a decay schedule at the given step', async (ops) => {
    const student = state(ops, 1, 2, 7)
    const teacher = state(ops, 0, 0, 3)
    const update = unsafeTeacherUpdate(ops, { decay: cosineToOne(0.5, 10) })
    const [r0] = update(student, 0)(teacher)
    const [r10, t10] = update(student, 10)(teacher)
    expect(r0.decay).toBe(0.5)
    expect(r10.decay).toBe(1)
    expect(await first(ops, t10.params.backbone.conv.weight)).toBe(0)
  })

  it('rejects a missing path, a shape mismatch and a dtype mismatch, naming the leaf', (ops) => {
    const student = state(ops, 1, 2, 7)
    const update = unsafeTeacherUpdate(ops, { decay: 0.5 })
    const missing = { ...state(ops, 0, 0, 3), params: { backbone: state(ops, 0, 0, 3).params.backbone } }
    expect(() => update(student)(missing as never)).toThrow(TreeStructureError)
    const wrongShape = state(ops, 0, 0, 3)
    const badShape = { ...wrongShape, params: { ...wrongShape.params, projector: { dense: { weight: ops.zeros([3]) } } } }
    expect(() => update(student)(badShape)).toThrow(ShapeMismatchError)
    expect(() => update(student)(badShape)).toThrow(/'params\/projector\/dense\/weight'.*teacher has shape \[3\], student has shape \[2\]/)
    const badDtype = state(ops, 0, 0, 3)
    const floatCount = { ...badDtype, stats: { ...badDtype.stats, backbone: { bn: { ...badDtype.stats.backbone.bn, count: ops.scalar(3) } } } }
    expect(() => update(student)(floatCount)).toThrow(DtypeMismatchError)
    expect(() => update(student)(floatCount)).toThrow(/stats\/backbone\/bn\/count.*float32.*int32/)
  })

  it('a disposed student leaf is an error naming it; inputs are never disposed or changed', async (ops) => {
    const student = state(ops, 1, 2, 7)
    const teacher = state(ops, 0, 0, 3)
    const [, t1] = unsafeTeacherUpdate(ops, { decay: 0.5 })(student)(teacher)
    expect(await first(ops, teacher.params.backbone.conv.weight)).toBe(0)
    expect(await first(ops, student.params.backbone.conv.weight)).toBe(1)
    expect(ops.isDisposed(t1.params.backbone.conv.weight)).toBe(false)
    ops.dispose(student.stats.backbone.bn.mean)
    expect(() => unsafeTeacherUpdate(ops, { decay: 0.5 })(student)(teacher)).toThrow(DisposedTensorError)
    expect(() => unsafeTeacherUpdate(ops, { decay: 0.5 })(student)(teacher)).toThrow(/student\/stats\/backbone\/bn\/mean/)
  })

  it('initTeacher is a deep copy of the whole student state, counters included', async (ops) => {
    const student = state(ops, 1, 2, 7)
    const teacher = initTeacher(ops, student)
    expect(teacher.params.backbone.conv.weight).not.toBe(student.params.backbone.conv.weight)
    expect(await first(ops, teacher.stats.backbone.bn.count)).toBe(7)
    expect(await first(ops, teacher.stats.backbone.bn.mean)).toBe(2)
  })
})
