/**
 * Image sets in memory: the `ImageSet` every pipeline trains on, and the parsing and validation of
 * IDX files (the format of MNIST and Fashion-MNIST) from bytes. Reading the files from disk is
 * Node's business (`polyak/node`: `loadMnist`); this module runs anywhere, a browser included.
 *
 * The magic numbers (2051 images, 2049 labels), the dimensions and the byte counts are checked; a
 * corrupt or truncated file gives an error naming the file and what is wrong.
 *
 * @module data/images
 */
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
  if (buf.length !== need)
    throw new DataFileError(file, `header says ${n} images of ${rows}×${cols} (${need} bytes) but the file has ${buf.length} bytes (truncated or corrupt)`)
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

/** Options of `fromIdx`: how many images to keep and the integer downsampling factor. */
export interface IdxOptions {
  /** Keep the first `limit` images (all by default). */
  readonly limit?: number
  /** Downsample by this integer factor with `factor × factor` average pooling (1: none; 2: 28×28 → 14×14). */
  readonly factor?: number
}

/**
 * An `ImageSet` from the bytes of an IDX images file and an IDX labels file, optionally the first
 * `limit` images, downsampled by an integer `factor`: pixel `(i, j)` is
 * `Σ_{a,b < f} raw[i·f + a, j·f + b] / (255·f²)`, so values lie in `[0, 1]`.
 *
 * @example
 * const set = fromIdx(imagesBytes, labelsBytes, { limit: 1000, factor: 2 })   // 14×14 images in [0, 1]
 */
export const fromIdx = (
  imagesBytes: Uint8Array,
  labelsBytes: Uint8Array,
  options: IdxOptions = {},
  /** Names of the two sources, for error messages. */
  names: { readonly images: string; readonly labels: string } = { images: 'images', labels: 'labels' },
): ImageSet => {
  const imagesFile = names.images
  const labelsFile = names.labels
  const img = parseIdxImages(imagesBytes, imagesFile)
  const labels = parseIdxLabels(labelsBytes, labelsFile)
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
