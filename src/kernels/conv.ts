/**
 * polyak's own convolutions, forward, filter gradient and input gradient, NHWC with HWIO filters
 * (tfjs's layouts), any stride, TensorFlow's padding: WGSL programs on webgpu, WebAssembly SIMD
 * (`assembly/kernels.ts`) on wasm, each for the channel counts `canConv`, `canConvFilterGrad` and
 * `canConvInputGrad` name:
 *
 *     y[n, oy, ox, o] = Σ_{i, j, c} x[n, oy·sh − top + i, ox·sw − left + j, c] · W[i, j, c, o]
 *     dW[i, j, c, o]  = Σ_{n, oy, ox} x[n, oy·sh − top + i, ox·sw − left + j, c] · dy[n, oy, ox, o]
 *     dx[n, y, x, c]  = Σ_{i, j, o} dy[n, (y + top − i)/sh, (x + left − j)/sw, o] · W[i, j, c, o]
 *                       (over the taps where both quotients are whole and inside dy)
 *
 * (x is 0 outside the image). The forward program gives each invocation four output channels (one
 * `vec4`) of `PIXELS` neighbouring output pixels of a row, accumulating in registers: every filter
 * `vec4` it reads serves `PIXELS` pixels, and neighbouring invocations read the same input values
 * and neighbouring filter values. The filter-gradient program gives each invocation four output
 * channels of one `(i, j, c)` over a slice of the batch; the slices (as many as it takes to have
 * about `TARGET_INVOCATIONS` in flight) are summed by a second program.
 *
 * Why not tfjs-webgpu's own: on Mesa lavapipe its `Conv2D` and `Conv2DBackpropFilter` took 80 % of
 * the small CNN's train step (docs/profiles.md); these programs are measured against them there.
 *
 * On wasm the three run one register tile of 4 output pixels × 8 output channels (the filter
 * gradient: 4 input × 8 output channels) over the whole reduction, with no im2col buffer:
 * tfjs-wasm has no filter gradient (polyak's im2col and XNNPACK's matrix product stood in, with the
 * gradient repacked on every call), its strided input gradient is a scalar loop, and its XNNPACK
 * forward convolution is slower than this tile at the channel counts of polyak's nets
 * (docs/profiles.md). The input gradient is the forward program reading `dy` through the
 * transposed window (`transposed = 1`), which also replaces the flipped-filter convolution at
 * stride 1.
 *
 * @module kernels/conv
 */
import * as tf from '@tensorflow/tfjs-core'
import { convOutput } from '../core/ops.js'
import { KERNELS } from './names.js'
import { type KernelImpl, defineKernel } from './registry.js'
import { type WasmBackendLike, offsetOf, onWasm, wasmKernels, withScratch } from './wasm/module.js'

/** The window geometry of a convolution (what both programs need besides the shapes). */
export interface ConvGeometry {
  readonly sh: number
  readonly sw: number
  /** Padding before the first row and column (TensorFlow's rule puts an odd total's extra pixel after). */
  readonly top: number
  readonly left: number
  readonly bottom: number
  readonly right: number
  readonly oh: number
  readonly ow: number
  /** The padding rule the geometry comes from (what a gradient needs to call tfjs's own kernels). */
  readonly pad: 'same' | 'valid'
}

/** The geometry of `conv2d(x, W, strides, pad)` for NHWC `xShape` and HWIO `filterShape` (TensorFlow's padding rule). */
export const convGeometry = (
  xShape: readonly number[],
  filterShape: readonly number[],
  strides: readonly [number, number],
  pad: 'same' | 'valid',
): ConvGeometry => {
  const [, h, w] = xShape as [number, number, number, number]
  const [kh, kw] = filterShape as [number, number]
  const rows = convOutput(h, kh, strides[0], pad)
  const cols = convOutput(w, kw, strides[1], pad)
  const after = (size: number, out: number, k: number, s: number, before: number) => (pad === 'same' ? Math.max((out - 1) * s + k - size, 0) - before : 0)
  return {
    sh: strides[0],
    sw: strides[1],
    oh: rows.out,
    ow: cols.out,
    top: rows.padBefore,
    bottom: after(h, rows.out, kh, strides[0], rows.padBefore),
    left: cols.padBefore,
    right: after(w, cols.out, kw, strides[1], cols.padBefore),
    pad,
  }
}

/** Output pixels per forward invocation. */
const PIXELS = 4

/** The filter gradient splits the batch until about this many invocations run. */
const TARGET_INVOCATIONS = 4096

/** The WebGPU limit on workgroups per dispatch dimension. */
const MAX_GROUPS = 65535

/** Invocations per workgroup. */
const WG = 64

/** A flat dispatch of `count` invocations (spread over y past 65 535 workgroups). */
const flatDispatch = (count: number): [number, number, number] => {
  const groups = Math.ceil(count / WG)
  return groups > MAX_GROUPS ? [MAX_GROUPS, Math.ceil(groups / MAX_GROUPS), 1] : [groups, 1, 1]
}

/**
 * WGSL that splits the flat `index` into mixed-radix digits, fastest first: each `[name, radix]`
 * takes `rest % radix`, and `last` takes what is left. `let` bindings, one division per digit.
 */
const unflatten = (index: string, digits: ReadonlyArray<readonly [string, string]>, last: string): string =>
  [`var rest = ${index};`, ...digits.flatMap(([name, radix]) => [`let ${name} = rest % ${radix};`, `rest = rest / ${radix};`]), `let ${last} = rest;`].join(
    '\n        ',
  )

const int = (v: number) => ({ type: 'int32', data: [v] })

/**
 * The frame every program here shares: `vec4` output, `count` invocations in a flat dispatch of
 * 64-wide workgroups, and the input bindings' components; subclasses give the names, uniforms and
 * WGSL.
 */
abstract class FlatVec4Program {
  readonly outputComponent = 4
  readonly workgroupSize: [number, number, number] = [WG, 1, 1]
  readonly dispatchLayout: { x: number[] }
  readonly dispatch: [number, number, number]
  abstract readonly variableNames: string[]
  abstract readonly uniforms: string
  constructor(
    readonly outputShape: number[],
    count: number,
    readonly variableComponents: number[],
    readonly shaderKey: string,
  ) {
    this.dispatch = flatDispatch(count)
    this.dispatchLayout = { x: outputShape.map((_, i) => i) }
  }
  abstract getUserCode(): string
}

/** `y = conv2d(x, W)`: one invocation per `vec4` of output channels and `PIXELS` output pixels of a row. */
class ConvForwardProgram extends FlatVec4Program {
  readonly variableNames = ['X', 'W']
  readonly uniforms =
    'h : i32, w : i32, ci : i32, oh : i32, ow : i32, co4 : i32, kh : i32, kw : i32, sh : i32, sw : i32, top : i32, left : i32, blocks : i32, invocations : i32,'
  constructor(
    outputShape: number[],
    invocations: number,
    /** Input channels a multiple of 4: read `x` as `vec4`s of channels and multiply by 4×4 blocks of `W`. */
    private readonly vec4In: boolean,
  ) {
    super(outputShape, invocations, [vec4In ? 4 : 1, 4], `polyak_conv2d_forward_${vec4In ? 4 : 1}`)
  }
  getUserCode(): string {
    const p = Array.from({ length: PIXELS }, (_, k) => k)
    // vec4In: uniforms.ci counts vec4s of channels; W row c·4 + r is input channel 4c + r
    const inner = this.vec4In
      ? `for (var c = 0; c < uniforms.ci; c = c + 1) {
              let wi = wRow + c * 4 * uniforms.co4;
              let wm = mat4x4<f32>(W[wi], W[wi + uniforms.co4], W[wi + 2 * uniforms.co4], W[wi + 3 * uniforms.co4]);
              ${p.map((k) => `acc${k} = acc${k} + wm * select(vec4<f32>(0.0), X[base${k} + c], ok${k});`).join('\n              ')}
            }`
      : `for (var c = 0; c < uniforms.ci; c = c + 1) {
              let wv = W[wRow + c * uniforms.co4];
              ${p.map((k) => `acc${k} = acc${k} + select(0.0, X[base${k} + c], ok${k}) * wv;`).join('\n              ')}
            }`
    return `
      fn main(index : i32) {
        if (index >= uniforms.invocations) { return; }
        ${unflatten(
          'index',
          [
            ['o4', 'uniforms.co4'],
            ['block', 'uniforms.blocks'],
            ['oy', 'uniforms.oh'],
          ],
          'n',
        )}
        let ox0 = block * ${PIXELS};
        ${p.map((k) => `var acc${k} = vec4<f32>(0.0);`).join('\n        ')}
        for (var i = 0; i < uniforms.kh; i = i + 1) {
          let iy = oy * uniforms.sh - uniforms.top + i;
          if (iy < 0 || iy >= uniforms.h) { continue; }
          let row = (n * uniforms.h + iy) * uniforms.w;
          for (var j = 0; j < uniforms.kw; j = j + 1) {
            ${p
              .map(
                (k) => `let ix${k} = (ox0 + ${k}) * uniforms.sw - uniforms.left + j;
            let ok${k} = ix${k} >= 0 && ix${k} < uniforms.w && ox0 + ${k} < uniforms.ow;
            let base${k} = (row + clamp(ix${k}, 0, uniforms.w - 1)) * uniforms.ci;`,
              )
              .join('\n            ')}
            let wRow = (i * uniforms.kw + j) * ${this.vec4In ? 4 : 1} * uniforms.ci * uniforms.co4 + o4;
            ${inner}
          }
        }
        let out = ((n * uniforms.oh + oy) * uniforms.ow + ox0) * uniforms.co4 + o4;
        ${p.map((k) => `if (ox0 + ${k} < uniforms.ow) { result[out + ${k} * uniforms.co4] = acc${k}; }`).join('\n        ')}
      }
    `
  }
}

/** Partial filter gradients: invocation `(slice, i, j, c, o4)` sums its slice of the batch, into `[slices, kh·kw·ci·co4]` vec4s. */
class ConvFilterGradProgram extends FlatVec4Program {
  readonly variableNames = ['X', 'DY']
  readonly uniforms =
    'n : i32, h : i32, w : i32, ci : i32, oh : i32, ow : i32, co4 : i32, kw : i32, sh : i32, sw : i32, top : i32, left : i32, weights : i32, perSlice : i32, invocations : i32,'
  constructor(
    outputShape: number[],
    invocations: number,
    /** Input channels a multiple of 4: each invocation sums a 4×4 block (4 input by 4 output channels), reading `x` as `vec4`s. */
    private readonly vec4In: boolean,
  ) {
    super(outputShape, invocations, [vec4In ? 4 : 1, 4], `polyak_conv2d_filter_grad_${vec4In ? 4 : 1}`)
  }
  getUserCode(): string {
    // vec4In: uniforms.ci counts vec4s of input channels, and weight (i, j, c, o4) covers filter rows 4c .. 4c + 3
    const r = this.vec4In ? [0, 1, 2, 3] : [0]
    const accumulate = this.vec4In
      ? `let xv = X[(row + ix) * uniforms.ci + c];
              let d = DY[(dyRow + ox) * uniforms.co4 + o4];
              ${r.map((k) => `acc${k} = acc${k} + xv[${k}] * d;`).join('\n              ')}`
      : 'acc0 = acc0 + X[(row + ix) * uniforms.ci + c] * DY[(dyRow + ox) * uniforms.co4 + o4];'
    const store = this.vec4In
      ? `let base = slice * uniforms.weights * 4 + ((i * uniforms.kw + j) * uniforms.ci * 4 + c * 4) * uniforms.co4 + o4;
        ${r.map((k) => `result[base + ${k} * uniforms.co4] = acc${k};`).join('\n        ')}`
      : 'result[index] = acc0;'
    return `
      fn main(index : i32) {
        if (index >= uniforms.invocations) { return; }
        let weight = index % uniforms.weights;
        let slice = index / uniforms.weights;
        ${unflatten(
          'weight',
          [
            ['o4', 'uniforms.co4'],
            ['c', 'uniforms.ci'],
            ['j', 'uniforms.kw'],
          ],
          'i',
        )}
        ${r.map((k) => `var acc${k} = vec4<f32>(0.0);`).join('\n        ')}
        let first = slice * uniforms.perSlice;
        let last = min(first + uniforms.perSlice, uniforms.n);
        for (var n = first; n < last; n = n + 1) {
          for (var oy = 0; oy < uniforms.oh; oy = oy + 1) {
            let iy = oy * uniforms.sh - uniforms.top + i;
            if (iy < 0 || iy >= uniforms.h) { continue; }
            let row = (n * uniforms.h + iy) * uniforms.w;
            let dyRow = (n * uniforms.oh + oy) * uniforms.ow;
            for (var ox = 0; ox < uniforms.ow; ox = ox + 1) {
              let ix = ox * uniforms.sw - uniforms.left + j;
              if (ix < 0 || ix >= uniforms.w) { continue; }
              ${accumulate}
            }
          }
        }
        ${store}
      }
    `
  }
}

/**
 * The input gradient for any stride: invocation `(n, iy, ix, c4)` sums, over the taps `(i, j)`
 * whose output position `((iy + top − i)/sh, (ix + left − j)/sw)` is whole and inside the output,
 * `dx[n, iy, ix, 4c4 .. 4c4 + 3] += Wᵀ[i, j, 4c4 .. 4c4 + 3, :]·dy[n, oy, ox, :]`, four output
 * channels (a `vec4`) of `dy` at a time.
 */
class ConvInputGradProgram extends FlatVec4Program {
  readonly variableNames = ['DY', 'W']
  readonly uniforms =
    'h : i32, w : i32, ci4 : i32, oh : i32, ow : i32, co4 : i32, kh : i32, kw : i32, sh : i32, sw : i32, top : i32, left : i32, invocations : i32,'
  constructor(outputShape: number[], invocations: number) {
    super(outputShape, invocations, [4, 4], 'polyak_conv2d_input_grad')
  }
  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index >= uniforms.invocations) { return; }
        ${unflatten(
          'index',
          [
            ['c4', 'uniforms.ci4'],
            ['ix', 'uniforms.w'],
            ['iy', 'uniforms.h'],
          ],
          'n',
        )}
        var acc = vec4<f32>(0.0);
        for (var i = 0; i < uniforms.kh; i = i + 1) {
          let ty = iy + uniforms.top - i;
          if (ty < 0 || ty % uniforms.sh != 0) { continue; }
          let oy = ty / uniforms.sh;
          if (oy >= uniforms.oh) { continue; }
          for (var j = 0; j < uniforms.kw; j = j + 1) {
            let tx = ix + uniforms.left - j;
            if (tx < 0 || tx % uniforms.sw != 0) { continue; }
            let ox = tx / uniforms.sw;
            if (ox >= uniforms.ow) { continue; }
            let d0 = ((n * uniforms.oh + oy) * uniforms.ow + ox) * uniforms.co4;
            let w0 = ((i * uniforms.kw + j) * uniforms.ci4 * 4 + c4 * 4) * uniforms.co4;
            for (var o = 0; o < uniforms.co4; o = o + 1) {
              let d = DY[d0 + o];
              acc = acc + vec4<f32>(
                dot(W[w0 + o], d),
                dot(W[w0 + uniforms.co4 + o], d),
                dot(W[w0 + 2 * uniforms.co4 + o], d),
                dot(W[w0 + 3 * uniforms.co4 + o], d));
            }
          }
        }
        result[index] = acc;
      }
    `
  }
}

/** `[S, K]` vec4s summed over S into `[K]` vec4s. */
class SumSlicesProgram extends FlatVec4Program {
  readonly variableNames = ['P']
  readonly uniforms = 'slices : i32, weights : i32,'
  constructor(outputShape: number[], weights: number) {
    super(outputShape, weights, [4], 'polyak_conv2d_sum_slices')
  }
  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index >= uniforms.weights) { return; }
        var acc = P[index];
        for (var s = 1; s < uniforms.slices; s = s + 1) {
          acc = acc + P[s * uniforms.weights + index];
        }
        result[index] = acc;
      }
    `
  }
}

const forwardWebgpu: KernelImpl<'webgpu', 'x' | 'filter', ConvGeometry> = ({ inputs: { x, filter }, backend, attrs: g }) => {
  const [n, h, w, ci] = x.shape as [number, number, number, number]
  const [kh, kw, , co] = filter.shape as [number, number, number, number]
  const blocks = Math.ceil(g.ow / PIXELS)
  const invocations = n * g.oh * blocks * (co / 4)
  const vec4In = ci % 4 === 0
  return backend.runWebGPUProgram(
    new ConvForwardProgram([n, g.oh, g.ow, co], invocations, vec4In),
    [x, filter],
    'float32',
    [h, w, vec4In ? ci / 4 : ci, g.oh, g.ow, co / 4, kh, kw, g.sh, g.sw, g.top, g.left, blocks, invocations].map(int),
  )
}

/** Attributes of the filter gradient: the geometry and the filter's shape. */
export interface ConvFilterGradAttrs extends ConvGeometry {
  readonly filterShape: readonly [number, number, number, number]
}

const filterGradWebgpu: KernelImpl<'webgpu', 'x' | 'dy', ConvFilterGradAttrs> = ({ inputs: { x, dy }, backend, attrs: g }) => {
  const [n, h, w, ci] = x.shape as [number, number, number, number]
  const [kh, kw, , co] = g.filterShape
  // an invocation per vec4 of output channels and (vec4In) per 4 input channels: `blocks` of them per slice
  const vec4In = ci % 4 === 0
  const cin = vec4In ? ci / 4 : ci
  const blocks = kh * kw * cin * (co / 4)
  const slices = Math.max(1, Math.min(n, Math.ceil(TARGET_INVOCATIONS / blocks)))
  const perSlice = Math.ceil(n / slices)
  const used = Math.ceil(n / perSlice)
  const uniforms = [n, h, w, cin, g.oh, g.ow, co / 4, kw, g.sh, g.sw, g.top, g.left, blocks, perSlice, used * blocks].map(int)
  const run = (shape: number[]) => backend.runWebGPUProgram(new ConvFilterGradProgram(shape, used * blocks, vec4In), [x, dy], 'float32', uniforms)
  if (used === 1) return run([kh, kw, ci, co])
  const weights = (kh * kw * ci * co) / 4
  const partial = run([used, kh * kw * ci * co])
  const out = backend.runWebGPUProgram(new SumSlicesProgram([kh, kw, ci, co], weights), [partial], 'float32', [int(used), int(weights)])
  backend.disposeData(partial.dataId)
  return out
}

/** Attributes of the input gradient: the geometry and the input's shape. */
export interface ConvInputGradAttrs extends ConvGeometry {
  readonly inputShape: readonly [number, number, number, number]
}

const inputGradWebgpu: KernelImpl<'webgpu', 'dy' | 'filter', ConvInputGradAttrs> = ({ inputs: { dy, filter }, backend, attrs: g }) => {
  const [n, h, w, ci] = g.inputShape
  const [kh, kw, , co] = filter.shape as [number, number, number, number]
  const invocations = n * h * w * (ci / 4)
  return backend.runWebGPUProgram(
    new ConvInputGradProgram([n, h, w, ci], invocations),
    [dy, filter],
    'float32',
    [h, w, ci / 4, g.oh, g.ow, co / 4, kh, kw, g.sh, g.sw, g.top, g.left, invocations].map(int),
  )
}

/** Output channels per register tile of the wasm programs (`TILE_O` in `assembly/kernels.ts`). */
const WASM_TILE_O = 8

/**
 * Runs `assembly/kernels.ts`'s `conv2d` into a new `[n, oh, ow, O]` tensor: packs `filter` (forward,
 * `[kh, kw, C, O]`; transposed, `[kh, kw, O, C]`) into scratch space with the zero run and the
 * per-tap address table, then convolves `input` (`[n, h, w, C]`).
 */
const wasmConv = (
  backend: WasmBackendLike,
  input: tf.TensorInfo,
  filter: tf.TensorInfo,
  outShape: readonly [number, number, number, number],
  g: Pick<ConvGeometry, 'sh' | 'sw' | 'top' | 'left'>,
  transposed: boolean,
): tf.TensorInfo => {
  const [n, h, w, C] = input.shape as [number, number, number, number]
  const [kh, kw] = filter.shape as [number, number]
  const [, oh, ow, O] = outShape
  const taps = kh * kw
  const out = backend.makeOutput([...outShape], 'float32')
  const packedBytes = taps * C * O * 4
  const zerosBytes = Math.max(16, C * 4)
  const k = wasmKernels(backend)!
  withScratch(backend, packedBytes + zerosBytes + 16 * (taps + 1) + 4 * taps, (scratch) => {
    k.packConvFilter(offsetOf(backend, filter), taps, C, O, transposed ? 1 : 0, scratch)
    k.conv2d(
      offsetOf(backend, input),
      n,
      h,
      w,
      C,
      scratch,
      kh,
      kw,
      O,
      g.sh,
      g.sw,
      g.top,
      g.left,
      oh,
      ow,
      transposed ? 1 : 0,
      scratch + packedBytes,
      scratch + packedBytes + zerosBytes,
      offsetOf(backend, out),
    )
  })
  return out
}

const forwardWasm: KernelImpl<'wasm', 'x' | 'filter', ConvGeometry> = ({ inputs: { x, filter }, backend, attrs: g }) => {
  const [n] = x.shape as [number]
  const co = filter.shape[3]!
  return wasmConv(backend, x, filter, [n, g.oh, g.ow, co], g, false)
}

const filterGradWasm: KernelImpl<'wasm', 'x' | 'dy', ConvFilterGradAttrs> = ({ inputs: { x, dy }, backend, attrs: g }) => {
  const [n, h, w, ci] = x.shape as [number, number, number, number]
  const [kh, kw, , co] = g.filterShape
  const out = backend.makeOutput([kh, kw, ci, co], 'float32')
  const k = wasmKernels(backend)!
  // the run table: 12 bytes per output row of a chunk
  withScratch(backend, 12 * k.convFilterGradChunkRows(g.ow, co), (runs) =>
    k.convFilterGrad(offsetOf(backend, x), n, h, w, ci, offsetOf(backend, dy), g.oh, g.ow, co, kh, kw, g.sh, g.sw, g.top, g.left, runs, offsetOf(backend, out)),
  )
  return out
}

const inputGradWasm: KernelImpl<'wasm', 'dy' | 'filter', ConvInputGradAttrs> = ({ inputs: { dy, filter }, backend, attrs: g }) =>
  wasmConv(backend, dy, filter, g.inputShape, g, true)

const forwardKernel = defineKernel<'x' | 'filter', ConvGeometry>({
  name: KERNELS.conv2d,
  backends: { webgpu: () => forwardWebgpu, wasm: onWasm(forwardWasm) },
  // the gradient is Conv2D's (nn/gradients registers it under this name too)
})

const filterGradKernel = defineKernel<'x' | 'dy', ConvFilterGradAttrs>({
  name: KERNELS.conv2dFilterGrad,
  backends: { webgpu: () => filterGradWebgpu, wasm: onWasm(filterGradWasm) },
})

const inputGradKernel = defineKernel<'dy' | 'filter', ConvInputGradAttrs>({
  name: KERNELS.conv2dInputGrad,
  backends: { webgpu: () => inputGradWebgpu, wasm: onWasm(inputGradWasm) },
})

/**
 * Whether a channel count suits polyak's programs on the active backend. webgpu: output channels in
 * fours (a `vec4` per invocation; the input gradient's input channels too). wasm: output channels in
 * eights (the register tile), reduction channels in fours; a forward convolution with fewer than 4
 * input channels (a first layer on images) stays on XNNPACK, whose tile suits it as well.
 */
const channelsFit = (reduction: number, output: number): boolean => {
  if (tf.getBackend() === 'wasm') return output % WASM_TILE_O === 0 && reduction % 4 === 0
  return output % 4 === 0
}

/** Whether polyak's input gradient runs this one on the active backend: float32, and the channels `channelsFit` (input channels are its output, output channels its reduction). */
export const canConvInputGrad = (dy: tf.Tensor, filterShape: readonly number[]): boolean =>
  dy.dtype === 'float32' &&
  dy.rank === 4 &&
  filterShape[2]! % 4 === 0 &&
  filterShape[3]! % 4 === 0 &&
  channelsFit(filterShape[3]!, filterShape[2]!) &&
  inputGradKernel.available()

/** `∂L/∂x` of `conv2d(x, W)` given `dy`, for any stride; check `canConvInputGrad` first. */
export const conv2dInputGrad = (dy: tf.Tensor4D, filter: tf.Tensor4D, attrs: ConvInputGradAttrs): tf.Tensor4D =>
  inputGradKernel.run<tf.Tensor4D>({ dy, filter }, attrs)

/** Whether polyak's convolution runs this one on the active backend: float32 NHWC, and the channels `channelsFit`. */
export const canConv = (x: tf.Tensor, filterShape: readonly number[]): boolean =>
  x.dtype === 'float32' && x.rank === 4 && filterShape.length === 4 && channelsFit(filterShape[2]!, filterShape[3]!) && forwardKernel.available()

/** Whether polyak's filter gradient runs this one on the active backend (input channels are its tile's rows on wasm). */
export const canConvFilterGrad = (x: tf.Tensor, filterShape: readonly number[]): boolean =>
  x.dtype === 'float32' && x.rank === 4 && channelsFit(filterShape[2]!, filterShape[3]!) && filterGradKernel.available()

/** `conv2d(x, filter, strides, pad)`: polyak's program where `canConv` says so, else tfjs's. */
export const conv2d = (x: tf.Tensor4D, filter: tf.Tensor4D, strides: readonly [number, number], pad: 'same' | 'valid'): tf.Tensor4D =>
  canConv(x, filter.shape)
    ? forwardKernel.run<tf.Tensor4D>({ x, filter }, convGeometry(x.shape, filter.shape, strides, pad))
    : tf.conv2d(x, filter, [strides[0], strides[1]], pad)

/** `∂L/∂W` of `conv2d(x, W)` given `dy`; check `canConvFilterGrad` first. */
export const conv2dFilterGrad = (x: tf.Tensor4D, dy: tf.Tensor4D, attrs: ConvFilterGradAttrs): tf.Tensor4D =>
  filterGradKernel.run<tf.Tensor4D>({ x, dy }, attrs)
