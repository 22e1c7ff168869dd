/**
 * The benchmark's fixed facts (no timings are asserted: speed lives in `polyak bench`).
 */
import { describe, expect, it } from 'vitest'
import { benchMarkdown, resnet18Shapes, resnet50Shapes, runBench, startTorch, time } from '../../bench/index.js'
import { requiredBackends } from '../support/backends.js'

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
      bandwidth: { copyGBs: 10, triadGBs: 12, webgpuCopyGBs: 80 },
      jsLoop: { emaResnet18: { median: 20, min: 19, max: 22, samples: 7 } },
      torch: { available: true, version: '1.13', device: 'cuda', deviceName: 'NVIDIA H200', pairs: 5 },
      rows: [
        {
          job: 'EMA',
          backend: 'wasm',
          timing: { median: 12, min: 11, max: 13, samples: 7 },
          torch: { median: 6, min: 6, max: 7, samples: 7 },
          vsTorch: 2,
          torchVsFloor: 6 / 11.7,
          floor: 11.7,
          vsFloor: 12 / 11.7,
        },
      ],
      seconds: 3,
    })
    expect(md).toMatch(/\| EMA \| wasm \| 12\.0 \(11\.0–13\.0\) \| 6\.0 \(6\.0–7\.0\) \| 2\.00× \| 11\.7 \| 1\.03× \| 0\.51× \|/)
    expect(md).toMatch(/WebGPU device copy 80\.0 GB\/s/)
    expect(md).toMatch(/1\.13 on NVIDIA H200/)
  })

  it('asked for CUDA where there is none, PyTorch says so instead of timing the CPU', async () => {
    const t = await startTorch({ device: 'cuda' })
    if (t.available) {
      // a machine with a CUDA GPU: then it must be the GPU that answers
      t.close()
      expect(t.device).toMatch(/^cuda/)
      expect(t.deviceName).not.toMatch(/CPU/)
    } else expect(t.note).toMatch(/CUDA is not available|torch is not importable|not found/)
  })

  it('a missing Python is named in the note', async () => {
    const t = await startTorch({ python: '/nonexistent/python3' })
    expect(t.available).toBe(false)
    expect(t.available ? '' : t.note).toMatch(/\/nonexistent\/python3 not found/)
  })
})

describe('bench on webgpu', () => {
  it("measures the device's copy bandwidth and takes the webgpu floor from it", async (ctx) => {
    const { backends } = await import('polyak/backends')
    const webgpu = backends.find((b) => b.name === 'webgpu')!
    const a = await webgpu.probe()
    if (!a.available) {
      if (requiredBackends().has('webgpu')) throw new Error(`webgpu is required but unavailable: ${a.reason}`)
      ctx.skip()
    }
    const r = await runBench({ backends: ['webgpu'], jobs: ['EMA update, ResNet-18 (11.7'], torch: { python: '/nonexistent/python3' } })
    const gbs = r.bandwidth.webgpuCopyGBs!
    expect(gbs).toBeGreaterThan(0)
    expect(Number.isFinite(gbs)).toBe(true)
    const row = r.rows.find((x) => x.backend === 'webgpu')!
    // 12 bytes per parameter: the teacher and the student read, the new teacher written
    expect(row.floor).toBeCloseTo((12 * count(resnet18Shapes())) / (gbs * 1e6), 6)
    expect(row.vsFloor).toBeCloseTo(row.timing!.median / row.floor!, 6)
    expect(r.torch.available).toBe(false)
  }, 120_000)
})
