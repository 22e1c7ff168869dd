import { describe, expect, it } from 'vitest'
import { main as compose } from '../examples/compose.js'
import { main as emanStep } from '../examples/emanStep.js'
import { main as myNormalizerLaws } from '../examples/myNormalizerLaws.js'
import { main as teacherSwap } from '../examples/teacherSwap.js'

describe('README examples', () => {
  it('the composition example runs and computes the EMA it describes', async () => {
    const r = await compose('cpu')
    expect(r.count).toBe(100)
    // two steps of decay 0.9 toward 1 from [0, 10]: 1 + (w0 − 1)·0.81
    expect(r.twoSteps[0]).toBeCloseTo(1 - 0.81, 5)
    expect(r.twoSteps[1]).toBeCloseTo(1 + 9 * 0.81, 5)
    expect(r.w[1]).toBeCloseTo(1 + 9 * 0.9 ** 100, 4)
  })

  it('the EMAN example: teacher statistics are the EMA of the student statistics', async () => {
    const r = await emanStep('cpu')
    // student running mean after two steps of decay 0.9 toward the batch mean [4, 5]: 0.19·[4, 5]
    expect(r.studentMean[0]).toBeCloseTo(0.19 * 4, 5)
    // teacher: 0.5·(0.5·0 + 0.5·0.4) + 0.5·0.76 = 0.48 for channel 0
    expect(r.teacherMean[0]).toBeCloseTo(0.5 * (0.5 * 0.4) + 0.5 * 0.76, 5)
    expect(r.teacherOut.length).toBe(8)
  })

  it('the laws example: a hand-written RMS norm is batch-independent', async () => {
    const results = await myNormalizerLaws('cpu')
    expect(results).toHaveLength(1)
    expect(results[0]).toMatchObject({ law: 'batch.independence', passed: true })
  })

  it('the teacher-swap example: BN teacher keeps its statistics, EMAN averages them', async () => {
    const r = await teacherSwap('cpu')
    expect(r.bn).toMatchObject({ norm: 'batchNorm', mode: 'train', report: { keep: 6 } })
    expect(r.eman).toMatchObject({ norm: 'eman', mode: 'eval', report: { keep: 0, copy: 2 } })
  })
})
