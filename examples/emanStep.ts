/**
 * The README's EMAN student/teacher step, runnable: a student BatchNorm trained on a batch, its
 * EMAN teacher updated (weights and statistics), then the teacher normalising another view with
 * its EMA statistics. `npm test` runs it (test/examples.test.ts).
 */
import { unsafeEmanUpdate, initTeacher, unsafeBatchNorm, unsafeEman } from 'polyak'
import { unsafeUseBackend } from 'polyak/backends'

/** Runs two EMAN steps on `backend`; returns the student's and teacher's running means. */
export const main = async (backend = 'wasm'): Promise<{ studentMean: number[]; teacherMean: number[]; teacherOut: number[] }> => {
  const { ops } = await unsafeUseBackend(backend)
  const bn = unsafeBatchNorm(ops) // student: train-mode BN
  const teacherBn = unsafeEman(ops) // teacher: eval-mode BN with EMA statistics
  const update = unsafeEmanUpdate(ops, { decay: 0.5 })

  const x = ops.tensor([1, 2, 3, 4, 5, 6, 7, 8], [4, 2])
  const xOtherView = ops.tensor([2, 3, 4, 5, 6, 7, 8, 9], [4, 2])
  let student = bn.init(2)
  let teacher = initTeacher(ops, student)
  for (let step = 0; step < 2; step++) {
    const [, student1] = bn.apply(x, 'train')(student)
    const [, teacher1] = update(student1, step)(teacher) // weights AND statistics averaged
    student = student1
    teacher = teacher1
  }
  const [yTeacher] = teacherBn.apply(xOtherView, 'train')(teacher) // eval-mode BN even in 'train'
  return {
    studentMean: Array.from(await ops.read(student.stats.mean)),
    teacherMean: Array.from(await ops.read(teacher.stats.mean)),
    teacherOut: Array.from(await ops.read(yTeacher)),
  }
}
