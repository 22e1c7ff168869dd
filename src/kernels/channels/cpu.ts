/**
 * The cpu implementations of the per-channel kernels (`kernels/channels`): the same arithmetic as
 * the wasm kernels in plain loops over tfjs-backend-cpu's typed arrays (sums in float64).
 *
 * @module kernels/channels/cpu
 */
import type * as tf from '@tensorflow/tfjs-core'
import { backendAs } from '../tfjsInternals.js'
import { type ChannelLayout, perGroup, statsShape } from './layout.js'
import type { KernelImpl } from '../registry.js'

/** Calls `f(base, a, c, b, g)` per group, `base` the group's first element. */
const groups = (shape: readonly number[], layout: ChannelLayout, f: (base: number, a: number, c: number, b: number, g: number) => void): void =>
  perGroup(shape, layout, (g, a, c, b) => f(g * a * c * b, a, c, b, g))

/**
 * Per-channel sums over one group: `acc[ch] = Σ x` (`center` undefined), `Σ (x − center[ch])²`
 * (`weights` undefined) or `Σ w·(x − center[ch])`. Channels last (`b = 1`) walks rows; otherwise runs.
 */
const channelSums = (
  x: Float32Array,
  base: number,
  a: number,
  c: number,
  b: number,
  acc: Float64Array,
  center?: Float32Array,
  centerAt = 0,
  weights?: Float32Array,
): void => {
  acc.fill(0)
  if (b === 1) {
    for (let r = base; r < base + a * c; r += c) {
      for (let ch = 0; ch < c; ch++) {
        const v = center === undefined ? x[r + ch]! : x[r + ch]! - center[centerAt + ch]!
        acc[ch]! += center === undefined ? v : weights === undefined ? v * v : weights[r + ch]! * v
      }
    }
    return
  }
  for (let i = 0; i < a; i++) {
    for (let ch = 0; ch < c; ch++) {
      const m = center === undefined ? 0 : center[centerAt + ch]!
      const run = base + (i * c + ch) * b
      let s = 0
      if (center === undefined) for (let q = run; q < run + b; q++) s += x[q]!
      else if (weights === undefined) {
        for (let q = run; q < run + b; q++) {
          const d = x[q]! - m
          s += d * d
        }
      } else for (let q = run; q < run + b; q++) s += weights[q]! * (x[q]! - m)
      acc[ch]! += s
    }
  }
}

const cpuValues = (backend: unknown, t: tf.TensorInfo): Float32Array => backendAs('cpu', backend).data.get(t.dataId).values

/** `PolyakMoments` on cpu. */
export const momentsCpu: KernelImpl<'cpu', 'x', ChannelLayout> = ({ inputs: { x }, backend, attrs }) => {
  const layout = attrs
  const xv = cpuValues(backend, x)
  const [size] = statsShape(x.shape, layout) as [number]
  const mean = new Float32Array(size)
  const variance = new Float32Array(size)
  const acc = new Float64Array(x.shape[layout.axis]!)
  groups(x.shape, layout, (base, a, c, b, g) => {
    const n = a * b
    channelSums(xv, base, a, c, b, acc)
    for (let ch = 0; ch < c; ch++) mean[g * c + ch] = acc[ch]! / n
    channelSums(xv, base, a, c, b, acc, mean, g * c)
    for (let ch = 0; ch < c; ch++) variance[g * c + ch] = acc[ch]! / n
  })
  const be = backendAs('cpu', backend)
  return [be.makeTensorInfo([size], 'float32', mean), be.makeTensorInfo([size], 'float32', variance)]
}

/** `PolyakNormalize` on cpu. */
export const normalizeCpu: KernelImpl<'cpu', 'x' | 'center' | 'scale' | 'offset', ChannelLayout> = ({
  inputs: { x, center, scale, offset },
  backend,
  attrs,
}) => {
  const [xv, cv, sv, ov] = [x, center, scale, offset].map((t) => cpuValues(backend, t)) as [Float32Array, Float32Array, Float32Array, Float32Array]
  const out = new Float32Array(xv.length)
  groups(x.shape, attrs, (base, a, c, b, g) => {
    if (b === 1) {
      const k0 = g * c
      for (let r = base; r < base + a * c; r += c) for (let ch = 0; ch < c; ch++) out[r + ch] = (xv[r + ch]! - cv[k0 + ch]!) * sv[k0 + ch]! + ov[k0 + ch]!
      return
    }
    for (let i = 0; i < a; i++) {
      for (let ch = 0; ch < c; ch++) {
        const k = g * c + ch
        const m = cv[k]!
        const s = sv[k]!
        const o = ov[k]!
        const run = base + (i * c + ch) * b
        for (let q = run; q < run + b; q++) out[q] = (xv[q]! - m) * s + o
      }
    }
  })
  return backendAs('cpu', backend).makeTensorInfo([...x.shape], 'float32', out)
}

/** `PolyakNormalizeGradSums` on cpu. */
export const gradSumsCpu: KernelImpl<'cpu', 'dy' | 'x' | 'center', ChannelLayout> = ({ inputs: { dy, x, center }, backend, attrs }) => {
  const layout = attrs
  const [gv, xv, cv] = [dy, x, center].map((t) => cpuValues(backend, t)) as [Float32Array, Float32Array, Float32Array]
  const [size] = statsShape(x.shape, layout) as [number]
  const sumDy = new Float32Array(size)
  const sumDyCentered = new Float32Array(size)
  const acc = new Float64Array(x.shape[layout.axis]!)
  groups(x.shape, layout, (base, a, c, b, g) => {
    channelSums(gv, base, a, c, b, acc)
    for (let ch = 0; ch < c; ch++) sumDy[g * c + ch] = acc[ch]!
    channelSums(xv, base, a, c, b, acc, cv, g * c, gv)
    for (let ch = 0; ch < c; ch++) sumDyCentered[g * c + ch] = acc[ch]!
  })
  const be = backendAs('cpu', backend)
  return [be.makeTensorInfo([size], 'float32', sumDy), be.makeTensorInfo([size], 'float32', sumDyCentered)]
}
