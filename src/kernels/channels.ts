/**
 * Fused per-channel kernels: the statistics and the elementwise half of every normaliser.
 *
 * A tensor is viewed as `[G, A, C, B]` by a layout `{lead, axis}`: the `lead` leading axes are
 * groups (`G = ∏ shape[<lead]`, statistics per group and channel), `C = shape[axis]` the channels,
 * `A = ∏ shape[lead..axis)`, `B = ∏ shape[>axis]`. BatchNorm's NHWC activations: `lead = 0`, `axis`
 * last (`B = 1`); OIHW filters: `axis = 0`; Momentum BN's `[views, rows, C]`: `lead = 1`;
 * GroupNorm's `[N, HW, groups, C/G]`: `lead = 1`, `axis = 2`. Statistics and coefficients are
 * `[G·C]`, group-major.
 *
 * - `PolyakMoments`: `mean[c] = Σ x / n`, `variance[c] = Σ (x − mean[c])² / n` over `n = A·B`
 *   values per channel, two passes, float32 blocks of 64 summed in float64.
 * - `PolyakNormalize`: `y = (x − center[c])·scale[c] + offset[c]`, one read and one write.
 * - `PolyakNormalizeGradSums`: `Σ dy` and `Σ dy·(x − center[c])` per channel, the reductions of
 *   `PolyakNormalize`'s gradient.
 *
 * Registered for wasm (WebAssembly SIMD, `assembly/kernels.ts`) and cpu (loops over the backend's
 * typed arrays, sums in float64); `PolyakMoments` and `PolyakNormalize` also for webgpu (WGSL: one
 * workgroup per statistic with a shared-memory tree sum, two passes; normalize in one pass, `vec4`
 * when the channels are last and a multiple of 4). Elsewhere `tfOps` composes tfjs ops.
 *
 * @module kernels/channels
 */
import * as tf from '@tensorflow/tfjs-core'
import { type CpuBackendLike, defineKernel } from './registry.js'
import { type WasmBackendLike, offsetOf, onWasm, wasmKernels, withScratch } from './wasm/module.js'

/** Which axes of a tensor index the statistics: the first `lead` axes (groups) and `axis` (channels), `axis ≥ lead`. */
export interface ChannelLayout {
  readonly lead: number
  readonly axis: number
}

const product = (xs: readonly number[]): number => xs.reduce((p, d) => p * d, 1)

/** `[G, A, C, B]` of `shape` under `layout`. */
export const channelView = (shape: readonly number[], { lead, axis }: ChannelLayout): [number, number, number, number] => [
  product(shape.slice(0, lead)),
  product(shape.slice(lead, axis)),
  shape[axis]!,
  product(shape.slice(axis + 1)),
]

/** The layout whose statistics axes are exactly `kept` (sorted), or `undefined` when they are not a prefix plus one axis. */
export const layoutOf = (kept: readonly number[]): ChannelLayout | undefined => {
  if (kept.length === 0) return undefined
  const lead = kept.length - 1
  return kept.slice(0, lead).every((k, i) => k === i) ? { lead, axis: kept[lead]! } : undefined
}

/** Runs a kernel once per group: `f(g, A, C, B)`. */
const perGroup = (shape: readonly number[], layout: ChannelLayout, f: (g: number, a: number, c: number, b: number) => void): void => {
  const [groups, a, c, b] = channelView(shape, layout)
  for (let g = 0; g < groups; g++) f(g, a, c, b)
}

const statsShape = (shape: readonly number[], layout: ChannelLayout): number[] => {
  const [groups, , c] = channelView(shape, layout)
  return [groups * c]
}

const momentsWasm: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x } = inputs as { x: tf.TensorInfo }
  const layout = attrs as unknown as ChannelLayout
  const be = backend as unknown as WasmBackendLike
  const mean = be.makeOutput(statsShape(x.shape, layout), 'float32')
  const variance = be.makeOutput(statsShape(x.shape, layout), 'float32')
  const k = wasmKernels(be)!
  const [px, pm, pv] = [offsetOf(be, x), offsetOf(be, mean), offsetOf(be, variance)]
  withScratch(be, 12 * x.shape[layout.axis]!, (scratch) =>
    perGroup(x.shape, layout, (g, a, c, b) => k.moments(px + 4 * g * a * c * b, a, c, b, pm + 4 * g * c, pv + 4 * g * c, scratch)),
  )
  return [mean, variance]
}

const normalizeWasm: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, center, scale, offset } = inputs as Record<'x' | 'center' | 'scale' | 'offset', tf.TensorInfo>
  const be = backend as unknown as WasmBackendLike
  const out = be.makeOutput([...x.shape], 'float32')
  const k = wasmKernels(be)!
  const [px, pc, ps, po, pout] = [x, center, scale, offset, out].map((t) => offsetOf(be, t)) as [number, number, number, number, number]
  perGroup(x.shape, attrs as unknown as ChannelLayout, (g, a, c, b) => {
    const [at, co] = [4 * g * a * c * b, 4 * g * c]
    k.normalize(px + at, a, c, b, pc + co, ps + co, po + co, pout + at)
  })
  return out
}

const gradSumsWasm: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, x, center } = inputs as Record<'dy' | 'x' | 'center', tf.TensorInfo>
  const layout = attrs as unknown as ChannelLayout
  const be = backend as unknown as WasmBackendLike
  const sumDy = be.makeOutput(statsShape(x.shape, layout), 'float32')
  const sumDyCentered = be.makeOutput(statsShape(x.shape, layout), 'float32')
  const k = wasmKernels(be)!
  const [pdy, px, pc, ps, pp] = [dy, x, center, sumDy, sumDyCentered].map((t) => offsetOf(be, t)) as [number, number, number, number, number]
  withScratch(be, 24 * x.shape[layout.axis]!, (scratch) =>
    perGroup(x.shape, layout, (g, a, c, b) => {
      const [at, co] = [4 * g * a * c * b, 4 * g * c]
      k.normalizeGradSums(pdy + at, px + at, a, c, b, pc + co, ps + co, pp + co, scratch)
    }),
  )
  return [sumDy, sumDyCentered]
}

// cpu: the same arithmetic as the wasm kernels in plain loops (JavaScript numbers are float64)

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

const cpuValues = (backend: unknown, t: tf.TensorInfo): Float32Array => (backend as CpuBackendLike).data.get(t.dataId).values

const momentsCpu: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x } = inputs as { x: tf.TensorInfo }
  const layout = attrs as unknown as ChannelLayout
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
  const be = backend as CpuBackendLike
  return [be.makeTensorInfo([size], 'float32', mean), be.makeTensorInfo([size], 'float32', variance)]
}

const normalizeCpu: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, center, scale, offset } = inputs as Record<'x' | 'center' | 'scale' | 'offset', tf.TensorInfo>
  const [xv, cv, sv, ov] = [x, center, scale, offset].map((t) => cpuValues(backend, t)) as [Float32Array, Float32Array, Float32Array, Float32Array]
  const out = new Float32Array(xv.length)
  groups(x.shape, attrs as unknown as ChannelLayout, (base, a, c, b, g) => {
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
  return (backend as CpuBackendLike).makeTensorInfo([...x.shape], 'float32', out)
}

const gradSumsCpu: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, x, center } = inputs as Record<'dy' | 'x' | 'center', tf.TensorInfo>
  const layout = attrs as unknown as ChannelLayout
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
  const be = backend as CpuBackendLike
  return [be.makeTensorInfo([size], 'float32', sumDy), be.makeTensorInfo([size], 'float32', sumDyCentered)]
}

interface WebGpuBackendLike {
  runWebGPUProgram: (program: unknown, inputs: tf.TensorInfo[], dtype: 'float32', uniforms: Array<{ type: string; data: number[] }>) => tf.TensorInfo
}

/** `(x − center[k])·scale[k] + offset[k]`, `k = g·C + c`, over a flat `[G, A, C, B]` view (tfjs-backend-webgpu's program interface). */
class NormalizeProgram {
  readonly variableNames = ['X', 'Center', 'Scale', 'Shift']
  readonly uniforms = 'groupSize : i32, inner : i32, channels : i32,'
  readonly size = true
  readonly workgroupSize: [number, number, number] = [64, 1, 1]
  readonly shaderKey: string
  readonly dispatchLayout: { x: number[] }
  readonly dispatch: [number, number, number]
  readonly outputComponent: number
  readonly variableComponents: number[]
  constructor(
    readonly outputShape: number[],
    vec4: boolean,
  ) {
    this.dispatchLayout = { x: outputShape.map((_, i) => i) }
    this.outputComponent = vec4 ? 4 : 1
    this.variableComponents = [1, 1, 1, 1].map(() => this.outputComponent)
    this.shaderKey = `polyak_normalize_${this.outputComponent}`
    const groups = Math.ceil(product(outputShape) / this.outputComponent / this.workgroupSize[0])
    this.dispatch = groups > 65535 ? [65535, Math.ceil(groups / 65535), 1] : [groups, 1, 1]
  }
  getUserCode(): string {
    // vec4: four consecutive channels of one row (B = 1), so one coefficient vec4 serves them
    const k =
      this.outputComponent === 4
        ? 'let e = index * 4; let k = ((e / uniforms.groupSize) * uniforms.channels + e % uniforms.channels) / 4;'
        : 'let k = (index / uniforms.groupSize) * uniforms.channels + (index / uniforms.inner) % uniforms.channels;'
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${k}
          result[index] = (X[index] - Center[k]) * Scale[k] + Shift[k];
        }
      }
    `
  }
}

/**
 * One statistic per workgroup: `Σ x / n` (`centered` false) or `Σ (x − mean[k])² / n` over the
 * `n = A·B` values of statistic `k = g·C + c`; each invocation sums a strided share in float32,
 * then the workgroup adds the shares pairwise in shared memory.
 */
class ChannelStatsProgram {
  readonly variableNames: string[]
  readonly uniforms = 'groupSize : i32, inner : i32, channels : i32, count : i32,'
  readonly size = true
  readonly workgroupSize: [number, number, number] = [256, 1, 1]
  readonly shaderKey: string
  readonly dispatchLayout = { x: [0] }
  readonly dispatch: [number, number, number]
  constructor(
    readonly outputShape: [number],
    private readonly centered: boolean,
  ) {
    this.variableNames = centered ? ['X', 'Mean'] : ['X']
    this.shaderKey = `polyak_channel_stats_${centered}`
    this.dispatch = [outputShape[0], 1, 1]
  }
  getUserCode(): string {
    const w = this.workgroupSize[0]
    return `
      var<workgroup> partial : array<f32, ${w}>;
      fn main(index : i32) {
        let stat = i32(workgroupId.x);
        let base = (stat / uniforms.channels) * uniforms.groupSize + (stat % uniforms.channels) * uniforms.inner;
        let rowStride = uniforms.channels * uniforms.inner;
        ${this.centered ? 'let m = Mean[stat];' : ''}
        var s = 0.0;
        for (var j = i32(localId.x); j < uniforms.count; j = j + ${w}) {
          let a = j / uniforms.inner;
          let v = X[base + a * rowStride + (j - a * uniforms.inner)];
          ${this.centered ? 's = s + (v - m) * (v - m);' : 's = s + v;'}
        }
        partial[localId.x] = s;
        workgroupBarrier();
        for (var half = ${w / 2}u; half > 0u; half = half / 2u) {
          if (localId.x < half) {
            partial[localId.x] = partial[localId.x] + partial[localId.x + half];
          }
          workgroupBarrier();
        }
        if (localId.x == 0u) {
          result[stat] = partial[0] / f32(uniforms.count);
        }
      }
    `
  }
}

/** WebGPU caps a dispatch dimension at 65 535 workgroups; more statistics than that stay composed. */
const MAX_WEBGPU_STATS = 65535

const momentsWebgpu: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x } = inputs as { x: tf.TensorInfo }
  const [groups, a, c, b] = channelView(x.shape, attrs as unknown as ChannelLayout)
  const be = backend as unknown as WebGpuBackendLike
  const uniforms = [a * c * b, b, c, a * b].map((v) => ({ type: 'int32', data: [v] }))
  const mean = be.runWebGPUProgram(new ChannelStatsProgram([groups * c], false), [x], 'float32', uniforms)
  const variance = be.runWebGPUProgram(new ChannelStatsProgram([groups * c], true), [x, mean], 'float32', uniforms)
  return [mean, variance]
}

const normalizeWebgpu: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, center, scale, offset } = inputs as Record<'x' | 'center' | 'scale' | 'offset', tf.TensorInfo>
  const [, a, c, b] = channelView(x.shape, attrs as unknown as ChannelLayout)
  const program = new NormalizeProgram([...x.shape], b === 1 && c % 4 === 0)
  return (backend as unknown as WebGpuBackendLike).runWebGPUProgram(program, [x, center, scale, offset], 'float32', [
    { type: 'int32', data: [a * c * b] },
    { type: 'int32', data: [b] },
    { type: 'int32', data: [c] },
  ])
}

const gradSumsKernel = defineKernel({ name: 'PolyakNormalizeGradSums', backends: { wasm: onWasm(gradSumsWasm), cpu: () => gradSumsCpu } })

/** The shape, of `x`'s rank, that `[G·C]` statistics broadcast from: 1 on the reduced axes. */
export const statsBroadcastShape = (shape: readonly number[], { lead, axis }: ChannelLayout): number[] =>
  shape.map((d, i) => (i < lead || i === axis ? d : 1))

const normalizeKernel = defineKernel({
  name: 'PolyakNormalize',
  backends: { wasm: onWasm(normalizeWasm), cpu: () => normalizeCpu, webgpu: () => normalizeWebgpu },
  gradient: {
    inputsToSave: ['x', 'center', 'scale'],
    gradFunc: (dy, saved, attrs) => {
      const [x, center, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor]
      const layout = attrs as unknown as ChannelLayout
      const g = dy as tf.Tensor
      // computed here, not inside the closures: tfjs runs each closure in its own tidy
      const axes = x.shape.map((_, i) => i).filter((i) => i >= layout.lead && i !== layout.axis)
      const [sumDy, sumDyCentered] = gradSumsKernel.available()
        ? (tf.engine().runKernel('PolyakNormalizeGradSums', { dy: g, x, center }, { ...layout }) as tf.Tensor[])
        : [g, tf.mul(g, tf.sub(x, tf.reshape(center, statsBroadcastShape(x.shape, layout))))].map((t) => tf.reshape(tf.sum(t, axes), [-1]))
      return {
        // ∂/∂x = dy·scale[c]; ∂/∂center = −scale·Σ dy; ∂/∂scale = Σ dy·(x − center); ∂/∂offset = Σ dy
        x: () => fusedNormalize(g, tf.zerosLike(center), scale, tf.zerosLike(center), layout),
        center: () => tf.neg(tf.mul(scale, sumDy!)),
        scale: () => tf.clone(sumDyCentered!),
        offset: () => tf.clone(sumDy!),
      }
    },
  },
})

const momentsKernel = defineKernel({
  name: 'PolyakMoments',
  backends: { wasm: onWasm(momentsWasm), cpu: () => momentsCpu, webgpu: () => momentsWebgpu },
  gradient: {
    inputsToSave: ['x'],
    outputsToSave: [true, false],
    gradFunc: (dys, saved, attrs) => {
      const [dMean, dVariance] = dys as tf.Tensor[]
      const [x, mean] = saved as [tf.Tensor, tf.Tensor]
      const layout = attrs as unknown as ChannelLayout
      const n = x.size / mean.size
      // ∂/∂x = dMean/n + dVariance·2(x − mean)/n, one fused pass
      return { x: () => fusedNormalize(x, mean, tf.mul(dVariance!, tf.scalar(2 / n)), tf.div(dMean!, tf.scalar(n)), layout) }
    },
  },
})

/** True when `moments` can run fused on the active backend (the layout is checked by the caller). */
export const canFuseMoments = (x: tf.Tensor, layout: ChannelLayout): boolean =>
  x.dtype === 'float32' && x.size > 0 && (tf.getBackend() !== 'webgpu' || statsShape(x.shape, layout)[0]! <= MAX_WEBGPU_STATS) && momentsKernel.available()

/** `[mean, biased variance]`, each `[G·C]`, over the axes outside `layout`. */
export const fusedMoments = (x: tf.Tensor, layout: ChannelLayout): [tf.Tensor1D, tf.Tensor1D] =>
  tf.engine().runKernel('PolyakMoments', { x }, { ...layout }) as unknown as [tf.Tensor1D, tf.Tensor1D]

/** True when `normalize` can run fused on the active backend (the layout is checked by the caller). */
export const canFuseNormalize = (x: tf.Tensor, coefficients: readonly tf.Tensor[]): boolean =>
  x.dtype === 'float32' && coefficients.every((t) => t.dtype === 'float32') && normalizeKernel.available()

/** `(x − center)·scale + offset` with `[G·C]` coefficients laid out by `layout`. */
export const fusedNormalize = (x: tf.Tensor, center: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor, layout: ChannelLayout): tf.Tensor =>
  tf.engine().runKernel('PolyakNormalize', { x, center, scale, offset }, { ...layout }) as tf.Tensor
