/**
 * The README's "compose your own pipeline" snippet: the same student with a BN teacher or an EMAN
 * teacher differs in the teacher's normalizer and its update policy; the backend is one argument.
 */
import { convNet, emanPolicy, unsafeTeacherUpdate, tfOps, weightsOnly } from 'polyak'
import { unsafeUseBackend } from 'polyak/backends'

/** Builds both teachers on `backend`; returns the normalizers and modes they use. */
export const main = async (backend = 'wasm') => {
  await unsafeUseBackend(backend) // or 'webgpu', 'cpu': the backend swap
  const student = convNet({ inputShape: [14, 14, 1], widths: [16, 32], norm: 'batchNorm', weightNorm: 'none', classes: 10 })

  // BN teacher: EMA of the weights, batch statistics in train mode
  const bnTeacher = { model: student, update: unsafeTeacherUpdate(tfOps, { decay: 0.99, policy: weightsOnly }), mode: 'train' as const }
  // EMAN teacher: one line each — eval-mode BN on EMA statistics, and the EMAN update policy
  const emanTeacher = {
    model: convNet({ ...student.config, norm: 'eman' }),
    update: unsafeTeacherUpdate(tfOps, { decay: 0.99, policy: emanPolicy }),
    mode: 'eval' as const,
  }

  const s = student.init(0)
  const [bnReport] = bnTeacher.update(s)(s)
  const [emanReport] = emanTeacher.update(s)(s)
  return {
    bn: { norm: bnTeacher.model.config.norm, mode: bnTeacher.mode, report: bnReport },
    eman: { norm: emanTeacher.model.config.norm, mode: emanTeacher.mode, report: emanReport },
  }
}
