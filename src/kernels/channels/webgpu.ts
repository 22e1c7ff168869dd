/**
 * The webgpu implementations of the per-channel kernels (`kernels/channels`): WGSL programs through
 * tfjs-backend-webgpu's program runner.
 *
 * @module kernels/channels/webgpu
 */
import type * as tf from '@tensorflow/tfjs-core'
import type { WebGpuBackendLike } from '../registry.js'
import { ElementwiseProgram } from '../webgpuProgram.js'
import { type ChannelLayout, channelView } from './layout.js'
import type { KernelImpl } from '../registry.js'

/** `(x − center[k])·scale[k] + offset[k]`, `k = g·C + c`, over a flat `[G, A, C, B]` view (tfjs-backend-webgpu's program interface). */
class NormalizeProgram extends ElementwiseProgram {
  readonly variableNames = ['X', 'Center', 'Scale', 'Shift']
  readonly uniforms = 'groupSize : i32, inner : i32, channels : i32,'
  constructor(outputShape: number[], vec4: boolean) {
    super(outputShape, 'normalize', 4, vec4)
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
export const MAX_WEBGPU_STATS = 65535

/** `PolyakMoments` on webgpu: a mean pass, then a centred-squares pass. */
export const momentsWebgpu: KernelImpl<'webgpu', 'x', ChannelLayout> = ({ inputs: { x }, backend, attrs }) => {
  const [groups, a, c, b] = channelView(x.shape, attrs)
  const be = backend
  const uniforms = [a * c * b, b, c, a * b].map((v) => ({ type: 'int32', data: [v] }))
  const mean = be.runWebGPUProgram(new ChannelStatsProgram([groups * c], false), [x], 'float32', uniforms)
  const variance = be.runWebGPUProgram(new ChannelStatsProgram([groups * c], true), [x, mean], 'float32', uniforms)
  return [mean, variance]
}

/** `PolyakNormalize` on webgpu. */
export const normalizeWebgpu: KernelImpl<'webgpu', 'x' | 'center' | 'scale' | 'offset', ChannelLayout> = ({
  inputs: { x, center, scale, offset },
  backend,
  attrs,
}) => {
  const [, a, c, b] = channelView(x.shape, attrs)
  const program = new NormalizeProgram([...x.shape], b === 1 && c % 4 === 0)
  return backend.runWebGPUProgram(program, [x, center, scale, offset], 'float32', [
    { type: 'int32', data: [a * c * b] },
    { type: 'int32', data: [b] },
    { type: 'int32', data: [c] },
  ])
}
