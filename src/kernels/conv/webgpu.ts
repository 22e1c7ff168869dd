/**
 * The webgpu implementations of polyak's convolutions (`kernels/conv`): WGSL programs through
 * tfjs-backend-webgpu's program runner. The forward program gives each invocation four output
 * channels (one `vec4`) of `PIXELS` neighbouring output pixels of a row, accumulating in registers;
 * the filter gradient gives each invocation four output channels of one `(i, j, c)` over a slice of
 * the batch, the slices summed by a second program; the input gradient one invocation per
 * `(n, y, x)` and `vec4` of input channels.
 *
 * @module kernels/conv/webgpu
 */
import type { KernelImpl } from '../registry.js'
import { int32 } from '../webgpuProgram.js'
import type { ConvFilterGradAttrs, ConvGeometry, ConvInputGradAttrs } from './geometry.js'

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

/** `PolyakConv2D` on webgpu: `y[n, oy, ox, o] = Σ_{i, j, c} x[n, oy·sh − top + i, ox·sw − left + j, c]·W[i, j, c, o]`, one dispatch. */
export const forwardWebgpu: KernelImpl<'webgpu', 'x' | 'filter', ConvGeometry> = ({ inputs: { x, filter }, backend, attrs: g }) => {
  const [n, h, w, ci] = x.shape as [number, number, number, number]
  const [kh, kw, , co] = filter.shape as [number, number, number, number]
  const blocks = Math.ceil(g.ow / PIXELS)
  const invocations = n * g.oh * blocks * (co / 4)
  const vec4In = ci % 4 === 0
  return backend.runWebGPUProgram(
    new ConvForwardProgram([n, g.oh, g.ow, co], invocations, vec4In),
    [x, filter],
    'float32',
    [h, w, vec4In ? ci / 4 : ci, g.oh, g.ow, co / 4, kh, kw, g.sh, g.sw, g.top, g.left, blocks, invocations].map(int32),
  )
}

/** `PolyakConv2DFilterGrad` on webgpu: `dW[i, j, c, o] = Σ_{n, oy, ox} x[n, oy·sh − top + i, ox·sw − left + j, c]·dy[n, oy, ox, o]`, per slice of the batch, then summed. */
export const filterGradWebgpu: KernelImpl<'webgpu', 'x' | 'dy', ConvFilterGradAttrs> = ({ inputs: { x, dy }, backend, attrs: g }) => {
  const [n, h, w, ci] = x.shape as [number, number, number, number]
  const [kh, kw, , co] = g.filterShape
  // an invocation per vec4 of output channels and (vec4In) per 4 input channels: `blocks` of them per slice
  const vec4In = ci % 4 === 0
  const cin = vec4In ? ci / 4 : ci
  const blocks = kh * kw * cin * (co / 4)
  const slices = Math.max(1, Math.min(n, Math.ceil(TARGET_INVOCATIONS / blocks)))
  const perSlice = Math.ceil(n / slices)
  const used = Math.ceil(n / perSlice)
  const uniforms = [n, h, w, cin, g.oh, g.ow, co / 4, kw, g.sh, g.sw, g.top, g.left, blocks, perSlice, used * blocks].map(int32)
  const run = (shape: number[]) => backend.runWebGPUProgram(new ConvFilterGradProgram(shape, used * blocks, vec4In), [x, dy], 'float32', uniforms)
  if (used === 1) return run([kh, kw, ci, co])
  const weights = (kh * kw * ci * co) / 4
  const partial = run([used, kh * kw * ci * co])
  const out = backend.runWebGPUProgram(new SumSlicesProgram([kh, kw, ci, co], weights), [partial], 'float32', [int32(used), int32(weights)])
  backend.disposeData(partial.dataId)
  return out
}

/** `PolyakConv2DInputGrad` on webgpu: `dx[n, y, x, c] = Σ_{i, j, o} dy[n, (y + top − i)/sh, (x + left − j)/sw, o]·W[i, j, c, o]` over the whole quotients inside `dy`. */
export const inputGradWebgpu: KernelImpl<'webgpu', 'dy' | 'filter', ConvInputGradAttrs> = ({ inputs: { dy, filter }, backend, attrs: g }) => {
  const [n, h, w, ci] = g.inputShape
  const [kh, kw, , co] = filter.shape as [number, number, number, number]
  const invocations = n * h * w * (ci / 4)
  return backend.runWebGPUProgram(
    new ConvInputGradProgram([n, h, w, ci], invocations),
    [dy, filter],
    'float32',
    [h, w, ci / 4, g.oh, g.ow, co / 4, kh, kw, g.sh, g.sw, g.top, g.left, invocations].map(int32),
  )
}
