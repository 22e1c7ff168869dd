/**
 * The geometry of a convolution (NHWC input, HWIO filter, TensorFlow's padding rule) and the
 * attributes of its gradient kernels: what every backend's convolution programs take besides the
 * tensors.
 *
 * @module kernels/conv/geometry
 */
import { convOutput } from '../../core/ops.js'

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

/** Attributes of the filter gradient: the geometry and the filter's shape. */
export interface ConvFilterGradAttrs extends ConvGeometry {
  readonly filterShape: readonly [number, number, number, number]
}

/** Attributes of the input gradient: the geometry and the input's shape. */
export interface ConvInputGradAttrs extends ConvGeometry {
  readonly inputShape: readonly [number, number, number, number]
}
