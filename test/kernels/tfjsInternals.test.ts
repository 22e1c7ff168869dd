/**
 * tfjs's private members are checked by what they do, not by whether they exist: on each backend
 * the probe passes, names what it checked, and fails (switching the fused kernels off on that
 * backend) when a member is doctored to misbehave; on an untested tfjs version the fused kernels
 * are off with one warning.
 */
import * as tf from '@tensorflow/tfjs-core'
import { afterEach, expect, vi } from 'vitest'
import { describeEachBackend, itOn } from '../support/backends.js'
import { probeInternals } from '../../src/kernels/internalsProbe.js'
import { TESTED_TFJS, assumeTfjsVersion, backendAs, internalsAllowed, isTestedTfjs } from '../../src/kernels/tfjsInternals.js'
import { canFuseAxpby } from '../../src/kernels/axpby.js'

afterEach(() => assumeTfjsVersion(undefined))

describeEachBackend(
  "tfjs's private members",
  (b) => {
    const it = itOn(b)

    it('do what the adapter types them to do (the probe that useBackend runs)', async () => {
      const r = await probeInternals()
      expect(r, r.reason).toMatchObject({ backend: b.descriptor.name, ok: true })
      expect(r.checked.length).toBeGreaterThan(0)
      expect(internalsAllowed()).toBe(true)
    })

    it('a doctored member fails the probe, and the fused kernels go off on this backend until a probe passes', async () => {
      const name = b.descriptor.name
      const backend = tf.backend()
      // a view of the backend with one member misbehaving (tfjs itself keeps the real one)
      let view: unknown = backend
      const restore: Array<() => void> = []
      if (name === 'cpu') {
        const real = backendAs('cpu', backend)
        view = Object.assign(Object.create(real) as object, { data: { get: (id: unknown) => ({ values: real.data.get(id).values.map((v) => v + 1) }) } })
      } else if (name === 'wasm') {
        const real = backendAs('wasm', backend)
        const map = { get: (id: unknown) => ({ ...real.dataIdMap.get(id)!, memoryOffset: real.dataIdMap.get(id)!.memoryOffset + 4 }) }
        view = Object.assign(Object.create(real) as object, { dataIdMap: map })
      } else {
        // the dispatch path itself: uniforms that lose their values (alpha, beta read as 0)
        const real = backend as unknown as { makeUniforms: (u: Array<{ type: string; data: number[] }>) => unknown }
        const make = real.makeUniforms
        restore.push(() => (real.makeUniforms = make))
        real.makeUniforms = (u) =>
          make.call(
            real,
            u.map((x) => ({ ...x, data: x.data.map(() => 0) })),
          )
      }
      try {
        const r = await probeInternals(view)
        expect(r.ok).toBe(false)
        expect(r.reason).toMatch(new RegExp(`^${name}: `))
        expect(internalsAllowed()).toBe(false)
        expect(canFuseAxpby(tf.ones([4]), tf.ones([4]))).toBe(false)
      } finally {
        restore.forEach((f) => f())
      }
      expect((await probeInternals()).ok).toBe(true)
      expect(internalsAllowed()).toBe(true)
    })
  },
  ['cpu', 'wasm', 'webgpu'],
)

describeEachBackend(
  'an untested tfjs version',
  (b) => {
    const it = itOn(b)
    it(`switches the fused kernels off with one warning (tested: ${TESTED_TFJS})`, () => {
      expect(isTestedTfjs(tf.version_core)).toBe(true)
      expect(isTestedTfjs('4.23.0')).toBe(false)
      expect(canFuseAxpby(tf.ones([4]), tf.ones([4]))).toBe(true)
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
      try {
        assumeTfjsVersion('4.23.0')
        expect(canFuseAxpby(tf.ones([4]), tf.ones([4]))).toBe(false)
        expect(canFuseAxpby(tf.ones([4]), tf.ones([4]))).toBe(false)
        expect(warn).toHaveBeenCalledTimes(1)
        expect(String(warn.mock.calls[0]![0])).toMatch(/tfjs-core 4\.23\.0 is outside the versions .* \(~4\.22\.0\); they are off/)
      } finally {
        warn.mockRestore()
      }
    })
  },
  ['wasm'],
)
