/**
 * How close an interpreter's results must be to the Float64 reference: one table, read by the
 * backend descriptors and by the laws' default tolerance.
 *
 * @module core/tolerance
 */

/** Tolerance of one elementwise op against the Float64 reference: `|a − b| ≤ atol + rtol·|b|`. */
export interface Tolerance {
  readonly rtol: number
  readonly atol: number
}

/** The unit roundoff of float32, `2⁻²⁴`: the relative error of one correctly rounded float32 op. */
export const FLOAT32_UNIT_ROUNDOFF = 2 ** -24

/**
 * Per interpreter: float32 backends a few ulp (webgpu more: WGSL allows transcendental functions a
 * few ulp of error), the Float64 reference far below float32.
 */
export const TOLERANCES: Readonly<Record<'reference' | 'cpu' | 'wasm' | 'webgpu' | 'tensorflow', Tolerance>> = {
  reference: { rtol: 1e-10, atol: 1e-12 },
  cpu: { rtol: 1e-5, atol: 1e-6 },
  wasm: { rtol: 1e-5, atol: 1e-6 },
  webgpu: { rtol: 1e-4, atol: 1e-5 },
  tensorflow: { rtol: 1e-5, atol: 1e-6 },
}

/** The tolerance of an interpreter by its `Ops.name` (`reference`, `tfjs:wasm`, …); float32's for one this table does not know. */
export const toleranceOf = (interpreter: string): Tolerance => TOLERANCES[interpreter.replace(/^tfjs:/, '') as keyof typeof TOLERANCES] ?? TOLERANCES.cpu
