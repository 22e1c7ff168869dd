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
 * (x is 0 outside the image). This module defines the three kernels and says where they run; the
 * programs are in `conv/webgpu` and `conv/wasm`, the geometry in `conv/geometry`.
 *
 * On webgpu the forward program gives each invocation four output channels (one `vec4`) of
 * `PIXELS` neighbouring output pixels of a row, accumulating in registers: every filter `vec4` it
 * reads serves `PIXELS` pixels, and neighbouring invocations read the same input values and
 * neighbouring filter values. The filter-gradient program gives each invocation four output
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
import { KERNELS } from './names.js'
import { defineKernel } from './registry.js'
import { onWasm } from './wasm/module.js'
import { type ConvFilterGradAttrs, type ConvGeometry, type ConvInputGradAttrs, convGeometry } from './conv/geometry.js'
import { WASM_TILE_O, filterGradWasm, forwardWasm, inputGradWasm } from './conv/wasm.js'
import { filterGradWebgpu, forwardWebgpu, inputGradWebgpu } from './conv/webgpu.js'

export { type ConvFilterGradAttrs, type ConvGeometry, type ConvInputGradAttrs, convGeometry }

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
 * The channel multiples each program needs, `[reduction, output]` per backend (a backend not listed
 * runs none). webgpu: output channels in fours (a `vec4` per invocation); the input gradient reads
 * its reduction (the forward's output channels) in fours too. wasm: output channels in eights (the
 * register tile); the forward and the input gradient take reduction channels in fours: with fewer
 * than 4 input channels (a first layer on images) the forward stays on XNNPACK, whose tile suits it
 * better (2.4 against 2.6 ms at [64,28,28,1]→32); the filter gradient takes any input channel count.
 */
const CHANNEL_MULTIPLES: Record<'forward' | 'filterGrad' | 'inputGrad', Readonly<Record<string, readonly [number, number]>>> = {
  forward: { webgpu: [1, 4], wasm: [4, WASM_TILE_O] },
  filterGrad: { webgpu: [1, 4], wasm: [1, WASM_TILE_O] },
  inputGrad: { webgpu: [4, 4], wasm: [4, WASM_TILE_O] },
}

/** Whether `program` on the active backend takes `reduction` and `output` channels (`CHANNEL_MULTIPLES`). */
const channelsFit = (program: keyof typeof CHANNEL_MULTIPLES, reduction: number, output: number): boolean => {
  const m = CHANNEL_MULTIPLES[program][tf.getBackend()]
  return m !== undefined && reduction % m[0] === 0 && output % m[1] === 0
}

/** Whether polyak's input gradient runs this one on the active backend: float32, and the channels fit (input channels are its output, output channels its reduction). */
export const canConvInputGrad = (dy: tf.Tensor, filterShape: readonly number[]): boolean =>
  dy.dtype === 'float32' && dy.rank === 4 && channelsFit('inputGrad', filterShape[3]!, filterShape[2]!) && inputGradKernel.available()

/** `∂L/∂x` of `conv2d(x, W)` given `dy`, for any stride; check `canConvInputGrad` first. */
export const conv2dInputGrad = (dy: tf.Tensor4D, filter: tf.Tensor4D, attrs: ConvInputGradAttrs): tf.Tensor4D =>
  inputGradKernel.run<tf.Tensor4D>({ dy, filter }, attrs)

/** Whether polyak's convolution runs this one on the active backend: float32 NHWC, and the channels fit. */
export const canConv = (x: tf.Tensor, filterShape: readonly number[]): boolean =>
  x.dtype === 'float32' && x.rank === 4 && filterShape.length === 4 && channelsFit('forward', filterShape[2]!, filterShape[3]!) && forwardKernel.available()

/** Whether polyak's filter gradient runs this one on the active backend: float32 NHWC, and the channels fit. */
export const canConvFilterGrad = (x: tf.Tensor, filterShape: readonly number[]): boolean =>
  x.dtype === 'float32' && x.rank === 4 && channelsFit('filterGrad', filterShape[2]!, filterShape[3]!) && filterGradKernel.available()

/** `conv2d(x, filter, strides, pad)`: polyak's program where `canConv` says so, else tfjs's. */
export const conv2d = (x: tf.Tensor4D, filter: tf.Tensor4D, strides: readonly [number, number], pad: 'same' | 'valid'): tf.Tensor4D =>
  canConv(x, filter.shape)
    ? forwardKernel.run<tf.Tensor4D>({ x, filter }, convGeometry(x.shape, filter.shape, strides, pad))
    : tf.conv2d(x, filter, [strides[0], strides[1]], pad)

/** `∂L/∂W` of `conv2d(x, W)` given `dy`; check `canConvFilterGrad` first. */
export const conv2dFilterGrad = (x: tf.Tensor4D, dy: tf.Tensor4D, attrs: ConvFilterGradAttrs): tf.Tensor4D =>
  filterGradKernel.run<tf.Tensor4D>({ x, dy }, attrs)
