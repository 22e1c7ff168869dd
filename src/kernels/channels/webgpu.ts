/**
 * The webgpu implementations of the per-channel kernels (`kernels/channels`): WGSL programs through
 * tfjs-backend-webgpu's program runner.
 *
 * @module kernels/channels/webgpu
 */
import type * as tf from '@tensorflow/tfjs-core'
import type { WebGpuBackendLike } from '../registry.js'
import { ElementwiseProgram, int32 } from '../webgpuProgram.js'
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

/** Invocations per workgroup of the reductions. */
const WG = 256

/**
 * How a reduction workgroup covers `[G, A, C, B]`: `tile` consecutive channels side by side (when
 * `B = 1` those are adjacent in memory, so neighbouring invocations read neighbouring floats),
 * `lanes = 256 / tile` invocations per channel walking its `n = A·B` values.
 */
interface ReductionShape {
  readonly tile: number
  readonly lanes: number
  readonly tiles: number
  /** `last`: `B = 1` (channels last); `first`: `A = 1` (each channel one run); `general`: value `j` splits into `(a, b)` by a division. */
  readonly addressing: 'last' | 'first' | 'general'
}
const reductionShape = (a: number, c: number, b: number): ReductionShape => {
  let tile = 1
  if (b === 1) while (tile * 2 <= Math.min(c, 32)) tile *= 2
  return { tile, lanes: WG / tile, tiles: Math.ceil(c / tile), addressing: b === 1 ? 'last' : a === 1 ? 'first' : 'general' }
}

/** The WGSL of value `j`'s address in channel `c` of group `g`: no integer division in the common layouts (it dominates on a CPU Vulkan). */
const ADDRESS = {
  last: 'g * uniforms.groupSize + j * uniforms.channels + c',
  first: 'g * uniforms.groupSize + c * uniforms.inner + j',
  general: 'g * uniforms.groupSize + ((j / uniforms.inner) * uniforms.channels + c) * uniforms.inner + j % uniforms.inner',
} as const

/**
 * WGSL shared by the reductions: each invocation sums its strided share of values `start..end` of
 * its channel around a shift (the first value it reads), turns that into `(count, mean, M2)`, and
 * the workgroup merges the triples pairwise (Chan et al.'s update, exact for any split) in shared
 * memory. Afterwards slot `lane` holds the channel's triple over the whole range.
 */
const reductionCode = ({ tile, lanes, addressing }: ReductionShape): string => `
  var<workgroup> wn : array<f32, ${WG}>;
  var<workgroup> wm : array<f32, ${WG}>;
  var<workgroup> wq : array<f32, ${WG}>;
  fn merge(a : u32, b : u32) {
    let nb = wn[b];
    if (nb > 0.0) {
      let na = wn[a];
      let n = na + nb;
      let d = wm[b] - wm[a];
      wm[a] = wm[a] + d * (nb / n);
      wq[a] = wq[a] + wq[b] + d * d * (na * nb / n);
      wn[a] = n;
    }
  }
  // the address of value j (of n = A·B) of channel c in group g
  fn at(g : i32, c : i32, j : i32) -> i32 {
    return ${ADDRESS[addressing]};
  }
  fn reduce(g : i32, c : i32, start : i32, end : i32) {
    let lane = localId.x % ${tile}u;
    let sub = i32(localId.x / ${tile}u);
    var n = 0.0;
    var k = 0.0;
    var s1 = 0.0;
    var s2 = 0.0;
    if (c < uniforms.channels && start + sub < end) {
      k = X[at(g, c, start + sub)];
      for (var j = start + sub; j < end; j = j + ${lanes}) {
        let d = X[at(g, c, j)] - k;
        s1 = s1 + d;
        s2 = s2 + d * d;
        n = n + 1.0;
      }
    }
    wn[localId.x] = n;
    wm[localId.x] = select(0.0, k + s1 / n, n > 0.0);
    wq[localId.x] = select(0.0, max(s2 - s1 * s1 / n, 0.0), n > 0.0);
    workgroupBarrier();
    for (var half = ${lanes / 2}u; half > 0u; half = half / 2u) {
      if (localId.x / ${tile}u < half) {
        merge(localId.x, localId.x + half * ${tile}u);
      }
      workgroupBarrier();
    }
  }
`

/** The uniforms of the reductions over a `[G, A, C, B]` view. */
const VIEW_UNIFORMS = 'groupSize : i32, inner : i32, channels : i32, count : i32,'
const viewUniforms = (a: number, c: number, b: number) => [a * c * b, b, c, a * b].map(int32)

/**
 * The frame of a stage-1 reduction program: workgroup `(chunk, tile, g)` covers values
 * `chunk·chunkLen ..` of `tile` channels of group `g` and writes `width` numbers per channel and
 * chunk, `[G·C, chunks, width]`; subclasses give the inputs and the WGSL.
 */
abstract class ChunkPartialProgram {
  abstract readonly variableNames: string[]
  readonly uniforms = `${VIEW_UNIFORMS} chunkLen : i32, chunks : i32,`
  readonly workgroupSize: [number, number, number] = [WG, 1, 1]
  readonly shaderKey: string
  readonly dispatchLayout = { x: [0] }
  readonly dispatch: [number, number, number]
  readonly outputShape: [number]
  constructor(
    name: string,
    protected readonly r: ReductionShape,
    stats: number,
    chunks: number,
    groups: number,
    width: number,
  ) {
    this.outputShape = [stats * chunks * width]
    this.shaderKey = `polyak_${name}_${r.tile}_${r.addressing}`
    this.dispatch = [chunks, r.tiles, groups]
  }
  abstract getUserCode(): string
}

/** Stage 1 of the moments: `(count, mean, M2)` per channel and chunk, `[G·C, chunks, 3]`. */
class MomentsPartialProgram extends ChunkPartialProgram {
  readonly variableNames = ['X']
  constructor(r: ReductionShape, stats: number, chunks: number, groups: number) {
    super('moments_partial', r, stats, chunks, groups, 3)
  }
  getUserCode(): string {
    return `
      ${reductionCode(this.r)}
      fn main(index : i32) {
        let chunk = i32(workgroupId.x);
        let c = i32(workgroupId.y) * ${this.r.tile} + i32(localId.x % ${this.r.tile}u);
        let g = i32(workgroupId.z);
        let start = chunk * uniforms.chunkLen;
        reduce(g, c, start, min(start + uniforms.chunkLen, uniforms.count));
        if (localId.x < ${this.r.tile}u && c < uniforms.channels) {
          let o = ((g * uniforms.channels + c) * uniforms.chunks + chunk) * 3;
          result[o] = wn[localId.x];
          result[o + 1] = wm[localId.x];
          result[o + 2] = wq[localId.x];
        }
      }
    `
  }
}

/** Stage 2 of the moments: one invocation per statistic merges its chunks' triples and writes the mean (`which` 0) or the biased variance (1). */
class MomentsCombineProgram extends ElementwiseProgram {
  readonly variableNames = ['Partial']
  readonly uniforms = 'chunks : i32, which : i32,'
  constructor(stats: number) {
    super([stats], 'moments_combine', 1, false)
  }
  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          var n = 0.0;
          var m = 0.0;
          var q = 0.0;
          for (var k = 0; k < uniforms.chunks; k = k + 1) {
            let o = (index * uniforms.chunks + k) * 3;
            let nb = Partial[o];
            if (nb > 0.0) {
              let nn = n + nb;
              let d = Partial[o + 1] - m;
              m = m + d * (nb / nn);
              q = q + Partial[o + 2] + d * d * (n * nb / nn);
              n = nn;
            }
          }
          result[index] = select(m, q / n, uniforms.which == 1);
        }
      }
    `
  }
}

/** WebGPU caps a dispatch dimension at 65 535 workgroups; more groups or channel tiles than that stay composed. */
export const MAX_WEBGPU_STATS = 65535

/** Workgroups the moments aim for, so that a GPU with many cores has work even when there are few channels. */
const TARGET_WORKGROUPS = 1024
/** The fewest values per invocation a chunk is cut down to. */
const MIN_VALUES_PER_INVOCATION = 16

/** How a two-stage reduction cuts each statistic's `n` values into chunks, one workgroup each: about `TARGET_WORKGROUPS` in flight, at least `MIN_VALUES_PER_INVOCATION` values per invocation. */
const chunking = (n: number, r: ReductionShape, groups: number): { chunkLen: number; chunks: number } => {
  const wanted = Math.ceil(TARGET_WORKGROUPS / (r.tiles * groups))
  const most = Math.max(1, Math.ceil(n / (r.lanes * MIN_VALUES_PER_INVOCATION)))
  const chunkLen = Math.ceil(n / Math.min(wanted, most))
  return { chunkLen, chunks: Math.ceil(n / chunkLen) }
}

/**
 * Runs a two-stage reduction over `[G, A, C, B]`: the stage-1 program `partial` (with the view's and
 * the chunking's uniforms), then `combine` once per output (its uniform `which` 0, 1, …), and frees
 * the partial results. Three dispatches for two outputs, whatever the shape.
 */
const runTwoStage = (
  backend: WebGpuBackendLike,
  partial: ChunkPartialProgram,
  inputs: tf.TensorInfo[],
  [a, c, b]: readonly [number, number, number],
  { chunkLen, chunks }: { chunkLen: number; chunks: number },
  combine: ElementwiseProgram,
  outputs: number,
): tf.TensorInfo[] => {
  const stage1 = backend.runWebGPUProgram(partial, inputs, 'float32', [...viewUniforms(a, c, b), int32(chunkLen), int32(chunks)])
  const out = Array.from({ length: outputs }, (_, which) => backend.runWebGPUProgram(combine, [stage1], 'float32', [int32(chunks), int32(which)]))
  backend.disposeData(stage1.dataId)
  return out
}

/**
 * `PolyakMoments` on webgpu, a two-stage parallel reduction: stage 1 spreads every statistic over
 * as many workgroups (chunks) as it takes to have about 1 024 in flight, each merging `(count,
 * mean, M2)` in shared memory; stage 2 merges the chunks (twice: once for the mean, once for the
 * variance). Three dispatches whatever the shape.
 */
export const momentsWebgpu: KernelImpl<'webgpu', 'x', ChannelLayout> = ({ inputs: { x }, backend, attrs }) => {
  const [groups, a, c, b] = channelView(x.shape, attrs)
  const r = reductionShape(a, c, b)
  const chunked = chunking(a * b, r, groups)
  const stats = groups * c
  return runTwoStage(backend, new MomentsPartialProgram(r, stats, chunked.chunks, groups), [x], [a, c, b], chunked, new MomentsCombineProgram(stats), 2)
}

/** Attributes of `PolyakStandardize`: the statistics' layout and `ε`. */
export interface StandardizeAttrs extends ChannelLayout {
  readonly epsilon: number
}

/**
 * `y = (x − mean[k])·scale[k]·(var[k] + ε)^(−1/2)`, statistics per `k = g·C + c`, in one dispatch:
 * workgroup `(tile, g)` reduces its channels' values in shared memory, then writes them normalised.
 */
class StandardizeProgram {
  readonly variableNames = ['X', 'Scale']
  readonly uniforms = `${VIEW_UNIFORMS} epsilon : f32,`
  readonly workgroupSize: [number, number, number] = [WG, 1, 1]
  readonly shaderKey: string
  readonly dispatchLayout = { x: [0] }
  readonly dispatch: [number, number, number]
  readonly outputShape: number[]
  constructor(
    shape: readonly number[],
    private readonly r: ReductionShape,
    groups: number,
  ) {
    this.outputShape = [...shape]
    this.shaderKey = `polyak_standardize_${r.tile}_${r.addressing}`
    this.dispatch = [1, r.tiles, groups]
  }
  getUserCode(): string {
    return `
      ${reductionCode(this.r)}
      fn main(index : i32) {
        let lane = localId.x % ${this.r.tile}u;
        let c = i32(workgroupId.y) * ${this.r.tile} + i32(lane);
        let g = i32(workgroupId.z);
        reduce(g, c, 0, uniforms.count);
        if (c < uniforms.channels) {
          let k = g * uniforms.channels + c;
          let mean = wm[lane];
          let factor = Scale[k] * inverseSqrt(wq[lane] / wn[lane] + uniforms.epsilon);
          for (var j = i32(localId.x / ${this.r.tile}u); j < uniforms.count; j = j + ${this.r.lanes}) {
            let i = at(g, c, j);
            result[i] = (X[i] - mean) * factor;
          }
        }
      }
    `
  }
}

/** The most values per statistic `PolyakStandardize` reduces in its one workgroup; longer ones are composed from the two-stage moments. */
export const MAX_STANDARDIZE_COUNT = 1 << 16

/** `PolyakStandardize` on webgpu: one dispatch. */
export const standardizeWebgpu: KernelImpl<'webgpu', 'x' | 'scale', StandardizeAttrs> = ({ inputs: { x, scale }, backend, attrs }) => {
  const [groups, a, c, b] = channelView(x.shape, attrs)
  const r = reductionShape(a, c, b)
  return backend.runWebGPUProgram(new StandardizeProgram(x.shape, r, groups), [x, scale], 'float32', [
    ...viewUniforms(a, c, b),
    { type: 'float32', data: [attrs.epsilon] },
  ])
}

/** `PolyakNormalize` on webgpu. */
export const normalizeWebgpu: KernelImpl<'webgpu', 'x' | 'center' | 'scale' | 'offset', ChannelLayout> = ({
  inputs: { x, center, scale, offset },
  backend,
  attrs,
}) => {
  const [, a, c, b] = channelView(x.shape, attrs)
  const program = new NormalizeProgram([...x.shape], b === 1 && c % 4 === 0)
  return backend.runWebGPUProgram(program, [x, center, scale, offset], 'float32', [int32(a * c * b), int32(b), int32(c)])
}

/**
 * Stage 1 of the gradient sums: `Σ dy` and `Σ dy·(x − center[k])` per channel and chunk,
 * `[G·C, chunks, 2]` (each invocation its strided share, then a tree in shared memory).
 */
class GradSumsPartialProgram extends ChunkPartialProgram {
  readonly variableNames = ['DY', 'X', 'Center']
  constructor(r: ReductionShape, stats: number, chunks: number, groups: number) {
    super('grad_sums_partial', r, stats, chunks, groups, 2)
  }
  getUserCode(): string {
    const { tile, lanes, addressing } = this.r
    return `
      var<workgroup> w1 : array<f32, ${WG}>;
      var<workgroup> w2 : array<f32, ${WG}>;
      fn at(g : i32, c : i32, j : i32) -> i32 {
        return ${ADDRESS[addressing]};
      }
      fn main(index : i32) {
        let chunk = i32(workgroupId.x);
        let c = i32(workgroupId.y) * ${tile} + i32(localId.x % ${tile}u);
        let g = i32(workgroupId.z);
        let start = chunk * uniforms.chunkLen;
        let end = min(start + uniforms.chunkLen, uniforms.count);
        var s1 = 0.0;
        var s2 = 0.0;
        if (c < uniforms.channels) {
          let center = Center[g * uniforms.channels + c];
          for (var j = start + i32(localId.x / ${tile}u); j < end; j = j + ${lanes}) {
            let i = at(g, c, j);
            let d = DY[i];
            s1 = s1 + d;
            s2 = s2 + d * (X[i] - center);
          }
        }
        w1[localId.x] = s1;
        w2[localId.x] = s2;
        workgroupBarrier();
        for (var half = ${lanes / 2}u; half > 0u; half = half / 2u) {
          if (localId.x / ${tile}u < half) {
            w1[localId.x] = w1[localId.x] + w1[localId.x + half * ${tile}u];
            w2[localId.x] = w2[localId.x] + w2[localId.x + half * ${tile}u];
          }
          workgroupBarrier();
        }
        if (localId.x < ${tile}u && c < uniforms.channels) {
          let o = ((g * uniforms.channels + c) * uniforms.chunks + chunk) * 2;
          result[o] = w1[localId.x];
          result[o + 1] = w2[localId.x];
        }
      }
    `
  }
}

/** Stage 2 of the gradient sums: one invocation per statistic adds its chunks' sums, `which` 0 (`Σ dy`) or 1 (`Σ dy·(x − center)`). */
class GradSumsCombineProgram extends ElementwiseProgram {
  readonly variableNames = ['Partial']
  readonly uniforms = 'chunks : i32, which : i32,'
  constructor(stats: number) {
    super([stats], 'grad_sums_combine', 1, false)
  }
  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          var s = 0.0;
          for (var k = 0; k < uniforms.chunks; k = k + 1) {
            s = s + Partial[(index * uniforms.chunks + k) * 2 + uniforms.which];
          }
          result[index] = s;
        }
      }
    `
  }
}

/**
 * `PolyakNormalizeGradSums` on webgpu, `[Σ dy, Σ dy·(x − center[k])]` per statistic: the same
 * two-stage reduction as the moments (chunks of each statistic's values over about 1 024
 * workgroups, then a combine per output), in place of the `Sub`, `Mul` and two `Sum` dispatches
 * of the composed gradient.
 */
export const gradSumsWebgpu: KernelImpl<'webgpu', 'dy' | 'x' | 'center', ChannelLayout> = ({ inputs: { dy, x, center }, backend, attrs }) => {
  const [groups, a, c, b] = channelView(x.shape, attrs)
  const r = reductionShape(a, c, b)
  const chunked = chunking(a * b, r, groups)
  const stats = groups * c
  return runTwoStage(
    backend,
    new GradSumsPartialProgram(r, stats, chunked.chunks, groups),
    [dy, x, center],
    [a, c, b],
    chunked,
    new GradSumsCombineProgram(stats),
    2,
  )
}
