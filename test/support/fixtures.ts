/**
 * Loading the PyTorch golden fixtures (test/fixtures/*.json, written by scripts/fixtures/generate.py)
 * and converting PyTorch layouts to polyak's channels-last layout.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { DType, Leaf, Ops } from 'polyak'

/** A tensor as the fixtures store it. */
export interface FixtureTensor {
  readonly shape: number[]
  readonly dtype: DType
  readonly data: number[]
}

/** Reads `test/fixtures/<name>`. */
export const loadFixture = <F>(name: string): F => JSON.parse(readFileSync(fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url)), 'utf8')) as F

/** Host-side NCHW → NHWC (rank 4) or identity (rank ≤ 3, channels already on axis 1 of [N, C] only). */
export const toChannelsLast = (t: FixtureTensor): FixtureTensor => {
  if (t.shape.length !== 4) return t
  const [n, c, h, w] = t.shape as [number, number, number, number]
  const out = new Array<number>(t.data.length)
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) out[((b * h + i) * w + j) * c + ch] = t.data[((b * c + ch) * h + i) * w + j]!
  return { shape: [n, h, w, c], dtype: t.dtype, data: out }
}

/** Makes a tensor of the fixture tensor on `ops`. */
export const tensorOf = <T extends Leaf>(ops: Ops<T>, t: FixtureTensor): T => ops.tensor(t.data, t.shape, t.dtype)

/** Parity tolerance of a backend against float64 PyTorch: ten times the backend's per-op tolerance, plus float32 headroom. */
export const parityTolerance = (tol: { rtol: number; atol: number }, isReference: boolean) =>
  isReference ? { rtol: 1e-9, atol: 1e-9 } : { rtol: 10 * tol.rtol + 2e-5, atol: 10 * tol.atol + 2e-5 }
