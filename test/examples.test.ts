import { describe, expect, it } from 'vitest'
import { main } from '../examples/compose.js'

describe('README examples', () => {
  it('the composition example runs and computes the EMA it describes', async () => {
    const r = await main('cpu')
    expect(r.count).toBe(100)
    // two steps of decay 0.9 toward 1 from [0, 10]: 1 + (w0 − 1)·0.81
    expect(r.twoSteps[0]).toBeCloseTo(1 - 0.81, 5)
    expect(r.twoSteps[1]).toBeCloseTo(1 + 9 * 0.81, 5)
    expect(r.w[1]).toBeCloseTo(1 + 9 * 0.9 ** 100, 4)
  })
})
