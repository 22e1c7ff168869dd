/**
 * The numeric checks the playground runs in the page and the browser tests run again in Node: one
 * EMAN student/teacher step and one BatchNorm training step on fixed inputs. Both sides call this
 * module, so "the page computes what Node computes" compares the same code on the same numbers.
 */
import { type Leaf, type Ops, unsafeEmanUpdate, initTeacher, unsafeBatchNorm, unsafeEman } from 'polyak'

/** Deterministic inputs: x[i] = sin(1.3·i + phase)·(1 + (i mod 3)). */
const input = (n: number, phase: number): number[] => Array.from({ length: n }, (_, i) => Math.sin(1.3 * i + phase) * (1 + (i % 3)))

/** The values every check returns, by name. */
export type CheckValues = Record<string, number[]>

/**
 * One EMAN step: a student BatchNorm in train mode on x [8, 4], the EMAN update of its teacher
 * (decay 0.9, weights and statistics), then the teacher (eval-mode BN) on another view.
 */
export const emanStep = async (ops: Ops<Leaf>): Promise<CheckValues> => {
  const bn = unsafeBatchNorm(ops)
  const teacherBn = unsafeEman(ops)
  const update = unsafeEmanUpdate(ops, { decay: 0.9 })
  const x = ops.tensor(input(32, 0), [8, 4])
  const view = ops.tensor(input(32, 0.5), [8, 4])
  const student0 = bn.init(4)
  const teacher0 = initTeacher(ops, student0)
  const [yStudent, student1] = bn.apply(x, 'train')(student0)
  const [, teacher1] = update(student1, 0)(teacher0)
  const [yTeacher] = teacherBn.apply(view, 'train')(teacher1)
  return {
    yStudent: Array.from(await ops.read(yStudent)),
    teacherMean: Array.from(await ops.read(teacher1.stats.mean)),
    teacherVariance: Array.from(await ops.read(teacher1.stats.variance)),
    yTeacher: Array.from(await ops.read(yTeacher)),
  }
}

/** One BatchNorm training step on x [2, 3, 3, 4] (NHWC): the output and the new running statistics. */
export const bnTrainStep = async (ops: Ops<Leaf>): Promise<CheckValues> => {
  const bn = unsafeBatchNorm(ops)
  const x = ops.tensor(input(72, 1), [2, 3, 3, 4])
  const [y, s] = bn.apply(x, 'train')(bn.init(4))
  return {
    y: Array.from(await ops.read(y)),
    mean: Array.from(await ops.read(s.stats.mean)),
    variance: Array.from(await ops.read(s.stats.variance)),
  }
}

/** Every check, by name. */
export const checks = { emanStep, bnTrainStep } as const
