/**
 * `npm run bench:peer`: the jax-js programs check themselves before they are timed (and a wrong
 * program fails its check), and a run gives one row per job and backend with its ratio. No timing
 * is asserted.
 */
import * as jax from '@jax-js/jax'
import { beforeAll, describe, expect, it } from 'vitest'
import { peerMarkdown, runPeerBench } from '../../bench/peer.js'
import { CNN, TooSlow, bnForwardJob, emaJob, trainStepJob } from '../../bench/peerJobs.js'

describe('bench:peer, the jax-js side', () => {
  beforeAll(async () => {
    await jax.init('wasm')
    jax.defaultDevice('wasm')
  })

  it('the EMA and BatchNorm programs pass their checks, jitted and eager', async () => {
    for (const mode of ['jit', 'eager'] as const) {
      for (const job of [emaJob([[7, 5], [300], [2, 3, 3, 3]]), bnForwardJob]) {
        const p = await job.setup(jax, mode)
        expect(await p.check(60_000), `${job.name} (${mode})`).toBeUndefined()
        await p.run()
        p.dispose()
      }
    }
  })

  it('a wrong EMA fails its check: the decay on the student instead of the teacher', async () => {
    const swapped = (d: number) => (t: jax.numpy.Array[], s: jax.numpy.Array[]) => t.map((x, i) => x.mul(1 - d).add(s[i]!.mul(d)))
    const p = await emaJob([[4, 4], [300]], swapped).setup(jax, 'eager')
    expect(await p.check(60_000)).toMatch(/^element \d+: .* instead of /)
    p.dispose()
  })

  it('a train step that cannot be checked within its budget is left out as too slow', async () => {
    const p = await trainStepJob('small CNN', 'small CNN train step', CNN).setup(jax, 'eager')
    await expect(p.check(0)).rejects.toThrow(TooSlow)
    p.dispose()
  }, 120_000)

  it('a run gives a row per job with polyak, both jax-js modes and the ratio', async () => {
    const r = await runPeerBench({ backends: ['wasm'], jobs: ['BN train forward'], rounds: 1, repeats: 1 })
    expect(r.rows).toHaveLength(1)
    const row = r.rows[0]!
    expect(row).toMatchObject({ job: 'BN train forward [64,32,32,64]', backend: 'wasm', notes: [] })
    expect(row.polyak!.median).toBeGreaterThan(0)
    expect(row.jit!.median).toBeGreaterThan(0)
    expect(row.eager!.median).toBeGreaterThan(0)
    expect(row.ratio).toBeCloseTo(row.polyak!.median / Math.min(row.jit!.median, row.eager!.median), 6)
    expect(peerMarkdown(r)).toMatch(/\| BN train forward \[64,32,32,64\] \| wasm \| [\d.]+ \| [\d.]+ \| [\d.]+ \| \d\.\d\d \(/)
    await expect(runPeerBench({ jobs: ['no such job'] })).rejects.toThrow(/no peer job's name contains no such job/)
  }, 120_000)
})
