/** `polyak bench --profile`: a train step's kernels, with calls and shares that add up (no timing is asserted). */
import { describe, expect, it } from 'vitest'
import { profileBench, profileMarkdown } from '../../bench/profile.js'

describe('bench --profile', () => {
  it('splits the small CNN train step on wasm into its kernels, convolutions among them, with shares that add up', async () => {
    const [p] = await profileBench({ backends: ['wasm'], jobs: ['small CNN'], steps: 1 })
    expect(p).toBeDefined()
    expect(p!.backend).toBe('wasm')
    expect(p!.steps).toBe(1)
    expect(p!.kernels.length).toBeGreaterThan(5)
    const names = p!.kernels.map((k) => k.kernel)
    expect(names.some((n) => n.startsWith('Conv2D') || n === 'FusedConv2D')).toBe(true)
    expect(p!.kernels.every((k) => k.calls >= 1 && k.ms >= 0)).toBe(true)
    expect(p!.kernels.reduce((a, k) => a + k.share, 0)).toBeCloseTo(1, 6)
    // sorted by time, and the kernels' total is what the rows add to
    expect(p!.kernels.map((k) => k.ms)).toEqual([...p!.kernels.map((k) => k.ms)].sort((a, b) => b - a))
    expect(p!.kernels.reduce((a, k) => a + k.ms, 0)).toBeCloseTo(p!.kernelMs, 6)
    const md = profileMarkdown([p!], 5)
    expect(md).toMatch(/^### small CNN train step.*: wasm\n\n\| kernel \| calls per step \| ms per step \| share \|/)
    expect(md).toMatch(/\| \d+ others \| \d+ \|/)
  })

  it('refuses a job name that matches nothing, listing the jobs', async () => {
    await expect(profileBench({ jobs: ['no such job'] })).rejects.toThrow(/no job's name contains 'no such job'; the jobs: .*train step/)
  })
})
