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

/**
 * A data set of images with integer labels: `images` row-major `N×H×W×C` (channels last, as the
 * models take them), `labels[i] ∈ [0, classes)`.
 */
export interface ImageSet {
  readonly images: Float32Array
  readonly labels: Uint8Array
  readonly n: number
  readonly height: number
  readonly width: number
  /** Channels per pixel (1 for grey images, 3 for RGB). */
  readonly channels: number
  /** Number of classes: labels are `0 … classes − 1`. */
  readonly classes: number
  /**
   * The per-channel standardisation batches apply, `x̂ = (x − mean_c)/std_c` (MNIST's
   * `0.13`/`0.31` for the IDX sets; the set's own statistics for `fromArrays`).
   */
  readonly normalization: { readonly mean: readonly number[]; readonly std: readonly number[] }
}

/** MNIST's pixel mean and standard deviation, the standardisation of the IDX sets. */
export const MNIST_NORMALIZATION = { mean: [0.13], std: [0.31] } as const

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
  /** Keep the first `limit` images (all by default), counted from `offset`. */
  readonly limit?: number
  /** Skip the first `offset` images (default 0): a validation split disjoint from the first `offset` training images. */
  readonly offset?: number
  /** Downsample by this integer factor with `factor × factor` average pooling (1: none; 2: 28×28 → 14×14). */
  readonly factor?: number
}

/**
 * An `ImageSet` from the bytes of an IDX images file and an IDX labels file, optionally `limit`
 * images from image `offset` on, downsampled by an integer `factor`: pixel `(i, j)` is
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
  const offset = options.offset ?? 0
  if (!Number.isInteger(offset) || offset < 0 || offset >= img.n)
    throw new DataFileError(imagesFile, `offset ${offset} must be an integer in [0, ${img.n}): the file holds ${img.n} images`)
  const n = Math.min(img.n - offset, options.limit ?? img.n)
  const f = options.factor ?? 1
  if (!Number.isInteger(f) || f < 1 || img.rows % f !== 0 || img.cols % f !== 0) {
    throw new DataFileError(imagesFile, `downsampling factor ${f} must be a positive integer dividing ${img.rows}×${img.cols}`)
  }
  const h = img.rows / f
  const w = img.cols / f
  const out = new Float32Array(n * h * w)
  const scale = 1 / (255 * f * f)
  for (let k = 0; k < n; k++) {
    const base = (offset + k) * img.rows * img.cols
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        let s = 0
        for (let a = 0; a < f; a++) for (let b = 0; b < f; b++) s += img.data[base + (i * f + a) * img.cols + j * f + b]!
        out[(k * h + i) * w + j] = s * scale
      }
    }
  }
  return { images: out, labels: labels.slice(offset, offset + n), n, height: h, width: w, channels: 1, classes: 10, normalization: MNIST_NORMALIZATION }
}

/** What `fromArrays` takes: images as a flat `N×H×W×C` array (or one array per image) and labels. */
export interface ArraySource {
  /** Every image's values, row-major `N×H×W×C`, or an array of `N` images of `H×W×C` values each. */
  readonly images: ArrayLike<number> | ReadonlyArray<ArrayLike<number>>
  readonly labels: ArrayLike<number>
  /** Per-image shape `[H, W, C]` (`[H, W]` for grey images). */
  readonly shape: readonly [number, number, number] | readonly [number, number]
  /** Number of classes (default: the largest label + 1). */
  readonly classes?: number
  /** Per-channel standardisation (default: each channel's mean and standard deviation over the set). */
  readonly normalization?: { readonly mean: readonly number[]; readonly std: readonly number[] }
}

/**
 * An `ImageSet` from plain arrays, with the checks of the IDX reader: the shape's dimensions are
 * positive integers, the value count is `N·H·W·C`, every value is finite, every label is an integer
 * in `[0, classes)`, at most 256 classes, and the standardisation has one positive `std` per channel.
 * Errors name the field (`fromArrays: labels[17]: …`).
 *
 * @example
 * const set = fromArrays({ images: rgb, labels, shape: [32, 32, 3] })      // rgb: Float32Array of N·32·32·3
 */
export const fromArrays = (source: ArraySource): ImageSet => {
  const fail = (field: string, detail: string): never => {
    throw new DataFileError(`fromArrays: ${field}`, detail)
  }
  const shape = source.shape as readonly number[]
  if (!Array.isArray(shape) || (shape.length !== 2 && shape.length !== 3) || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    fail('shape', `must be [H, W] or [H, W, C] of positive integers, got ${JSON.stringify(shape)}`)
  }
  const [h, w, c = 1] = shape as [number, number, number?]
  const per = h * w * c
  const nested = Array.isArray(source.images) && source.images.length > 0 && typeof (source.images as unknown[])[0] !== 'number'
  const n = source.labels?.length ?? fail('labels', 'must be an array of integer labels')
  const images = new Float32Array(n * per)
  if (nested) {
    const list = source.images as ReadonlyArray<ArrayLike<number>>
    if (list.length !== n) fail('images', `has ${list.length} images for ${n} labels`)
    list.forEach((img, i) => {
      if (img?.length !== per) fail(`images[${i}]`, `has ${img?.length} values, the shape ${JSON.stringify(shape)} needs ${per}`)
      for (let k = 0; k < per; k++) images[i * per + k] = img[k]!
    })
  } else {
    const flat = source.images as ArrayLike<number>
    if (flat?.length !== n * per) fail('images', `has ${flat?.length} values; ${n} labels of shape ${JSON.stringify(shape)} need ${n * per}`)
    for (let k = 0; k < n * per; k++) images[k] = flat[k]!
  }
  const bad = images.findIndex((v) => !Number.isFinite(v))
  if (bad >= 0) fail(`images[${Math.floor(bad / per)}]`, `value ${images[bad]} at offset ${bad % per} is not finite`)
  if (n === 0) fail('labels', 'is empty: a set needs at least one image')
  let top = 0
  const labels = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    const l = source.labels[i]!
    if (!Number.isInteger(l) || l < 0 || l > 255) fail(`labels[${i}]`, `must be an integer in [0, 255], got ${l}`)
    labels[i] = l
    top = Math.max(top, l)
  }
  const classes = source.classes ?? top + 1
  if (!Number.isInteger(classes) || classes < 1 || classes > 256) fail('classes', `must be an integer in [1, 256], got ${classes}`)
  if (top >= classes) fail(`labels[${labels.indexOf(top)}]`, `label ${top} is not below classes = ${classes}`)
  const normalization = source.normalization ?? channelStatistics(images, c)
  for (const key of ['mean', 'std'] as const) {
    const v = normalization[key]
    if (!Array.isArray(v) || v.length !== c || v.some((x) => !Number.isFinite(x) || (key === 'std' && x <= 0))) {
      fail(`normalization.${key}`, `needs ${c} finite value${c === 1 ? '' : 's'}${key === 'std' ? ' > 0' : ''} (one per channel), got ${JSON.stringify(v)}`)
    }
  }
  return { images, labels, n, height: h, width: w, channels: c, classes, normalization }
}

/** Each channel's mean and standard deviation over a set (`std` at least 1e-6, so a constant channel stays finite). */
const channelStatistics = (images: Float32Array, c: number): { mean: number[]; std: number[] } => {
  const sum = new Float64Array(c)
  const sq = new Float64Array(c)
  for (let k = 0; k < images.length; k++) sum[k % c] = sum[k % c]! + images[k]!
  const count = images.length / c
  const mean = Array.from(sum, (s) => s / count)
  for (let k = 0; k < images.length; k++) sq[k % c] = sq[k % c]! + (images[k]! - mean[k % c]!) ** 2
  return { mean, std: Array.from(sq, (s) => Math.max(1e-6, Math.sqrt(s / count))) }
}
