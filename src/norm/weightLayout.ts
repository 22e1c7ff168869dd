/**
 * Weight layouts and their per-output-filter (fan-in) axes, shared by the weight normalizers.
 *
 * | layout | framework | shape | output axis | fan-in axes |
 * | --- | --- | --- | --- | --- |
 * | `'HWIO'` | TensorFlow / tfjs conv2d | `[kH, kW, I, O]` | 3 | 0, 1, 2 |
 * | `'OIHW'` | PyTorch `Conv2d` | `[O, I/g, kH, kW]` | 0 | 1, 2, 3 |
 * | `'IOHW'` | PyTorch `ConvTranspose2d` | `[I, O/g, kH, kW]` | 1 | 0, 2, 3 |
 * | `'IO'` | TensorFlow / tfjs dense kernel | `[in, out]` | 1 | 0 |
 * | `'OI'` | PyTorch `Linear` | `[out, in]` | 0 | 1 |
 *
 * @module norm/weightLayout
 */
import * as t from 'io-ts'
import { ShapeMismatchError, showShape } from '../core/errors.js'

/** A weight layout. */
export type WeightLayout = 'HWIO' | 'OIHW' | 'IOHW' | 'IO' | 'OI'

/** Codec of `WeightLayout`. */
export const WeightLayoutC = t.keyof({ HWIO: null, OIHW: null, IOHW: null, IO: null, OI: null }, 'WeightLayout')

const RANK: Record<WeightLayout, number> = { HWIO: 4, OIHW: 4, IOHW: 4, IO: 2, OI: 2 }
const OUT_AXIS: Record<WeightLayout, number> = { HWIO: 3, OIHW: 0, IOHW: 1, IO: 1, OI: 0 }

/** The output axis and fan-in axes of a weight of `shape` in `layout`, and the fan-in `N`. */
export const filterAxes = (
  op: string,
  layout: WeightLayout,
  shape: readonly number[],
): { readonly outAxis: number; readonly fanInAxes: number[]; readonly fanIn: number; readonly filters: number } => {
  if (shape.length !== RANK[layout]) {
    throw new ShapeMismatchError(`${op}: weight`, `layout '${layout}' needs a rank-${RANK[layout]} weight, got ${showShape(shape)}`)
  }
  const outAxis = OUT_AXIS[layout]
  const fanInAxes = shape.map((_, i) => i).filter((i) => i !== outAxis)
  return { outAxis, fanInAxes, fanIn: fanInAxes.reduce((n, a) => n * shape[a]!, 1), filters: shape[outAxis]! }
}

/** The shape that broadcasts a per-filter vector `[O]` against a weight of `rank` with the output on `outAxis`. */
export const perFilterShape = (rank: number, outAxis: number, filters: number): number[] =>
  Array.from({ length: rank }, (_, i) => (i === outAxis ? filters : 1))
