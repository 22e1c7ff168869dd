/**
 * The benchmark's fixed facts (no timings are asserted: speed lives in `polyak bench`).
 */
import { describe, expect, it } from 'vitest'
import { benchMarkdown, resnet18Shapes, resnet50Shapes, time } from '../../bench/index.js'

const count = (shapes: number[][]) => shapes.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0)

describe('bench', () => {
  it('ResNet-18 has 11 689 512 parameters in 62 tensors; ResNet-50 25 557 032 in 161', () => {
    expect(resnet18Shapes()).toHaveLength(62)
    expect(count(resnet18Shapes())).toBe(11_689_512)
    expect(count(resnet50Shapes())).toBe(25_557_032)
    expect(resnet50Shapes()).toHaveLength(161)
  })

  it('time() reports median, min, max over the repeats after the warm-up', async () => {
    let calls = 0
    const t = await time(() => void (calls += 1), { warmup: 2, repeats: 5 })
    expect(calls).toBe(7)
    expect(t.samples).toBe(5)
    expect(t.min).toBeLessThanOrEqual(t.median)
    expect(t.median).toBeLessThanOrEqual(t.max)
  })

  it('renders a report as a markdown table with ratios', () => {
    const md = benchMarkdown({
      machine: { cpus: 2, node: 'v20' },
      bandwidth: { copyGBs: 10, triadGBs: 12 },
      jsLoop: { emaResnet18: { median: 20, min: 19, max: 22, samples: 7 } },
      torch: { available: true, version: '1.13' },
      rows: [
        {
          job: 'EMA',
          backend: 'wasm',
          timing: { median: 12, min: 11, max: 13, samples: 7 },
          torch: { median: 6, min: 6, max: 7, samples: 7 },
          vsTorch: 2,
          floor: 11.7,
          vsFloor: 12 / 11.7,
        },
      ],
      seconds: 3,
    })
    expect(md).toMatch(/\| EMA \| wasm \| 12\.0 \(11\.0–13\.0\) \| 6\.0 \(6\.0–7\.0\) \| 2\.00× \| 11\.7 \| 1\.03× \|/)
  })
})
