/**
 * Host-side batching and augmentation of images (any number of channels), deterministic from a seed: random shifts
 * (zero-padded translation), Gaussian noise and cutout, in a weak and a strong variant (FixMatch's
 * weak/strong pair; the two views of BYOL/SimCLR).
 *
 * @module data/augment
 */
import { type Rng, derive, int, normal, permutation } from '../nn/random.js'
import type { ImageSet } from './images.js'

/** An augmentation policy. */
export interface Augmentation {
  /** Largest shift in pixels along each axis. */
  readonly shift: number
  /** Standard deviation of additive Gaussian noise (in [0,1] pixel units). */
  readonly noise: number
  /** Side of a square zeroed at a random place (0: none). */
  readonly cutout: number
}

/** Weak: shift by up to 1 pixel. */
export const WEAK: Augmentation = { shift: 1, noise: 0, cutout: 0 }
/** Strong: shift by up to 2 pixels, noise 0.1, a cutout of a third of the side. */
export const strong = (side: number): Augmentation => ({ shift: 2, noise: 0.1, cutout: Math.max(1, Math.round(side / 3)) })
/** No augmentation. */
export const NONE: Augmentation = { shift: 0, noise: 0, cutout: 0 }

/**
 * Copies images `indices` of `set` into a batch `[B, H, W, C]` (row-major), augmented (one shift
 * and one cutout per image, shared by its channels; noise per value) and standardised per channel
 * with `set.normalization`: `x̂ = (x − mean_c)/std_c`.
 */
export const makeBatch = (set: ImageSet, indices: readonly number[], aug: Augmentation, r: Rng): Float32Array => {
  const { height: h, width: w, channels: c } = set
  const { mean, std } = set.normalization
  const out = new Float32Array(indices.length * h * w * c)
  indices.forEach((idx, b) => {
    const dy = aug.shift > 0 ? int(r, 2 * aug.shift + 1) - aug.shift : 0
    const dx = aug.shift > 0 ? int(r, 2 * aug.shift + 1) - aug.shift : 0
    const cy = aug.cutout > 0 ? int(r, h) : -1000
    const cx = aug.cutout > 0 ? int(r, w) : -1000
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const si = i - dy
        const sj = j - dx
        const inside = si >= 0 && si < h && sj >= 0 && sj < w
        const cut = Math.abs(i - cy) * 2 < aug.cutout && Math.abs(j - cx) * 2 < aug.cutout
        for (let ch = 0; ch < c; ch++) {
          let v = inside ? set.images[((idx * h + si) * w + sj) * c + ch]! : 0
          if (cut) v = 0
          if (aug.noise > 0) v += aug.noise * normal(r)
          out[((b * h + i) * w + j) * c + ch] = (v - mean[ch]!) / std[ch]!
        }
      }
    }
  })
  return out
}

/** An endless, seeded stream of index batches over `pool`, reshuffled every epoch. */
export const batchStream = (pool: readonly number[], batchSize: number, seed: number, label: string): (() => number[]) => {
  const r = derive(seed, label)
  let order: number[] = []
  let pos = 0
  return () => {
    const out: number[] = []
    while (out.length < batchSize) {
      if (pos >= order.length) {
        order = permutation(r, pool.length).map((i) => pool[i]!)
        pos = 0
      }
      out.push(order[pos++]!)
    }
    return out
  }
}

/**
 * A class-balanced labelled subset, chosen with `seed`: `fraction` of each class's images (at least
 * one), or, with `perClass`, exactly that many of each class (FixMatch's protocol: 4 or 25 labels per
 * class; all of a class's images where it has fewer). The rest are unlabelled. Returns indices into the set.
 */
export const labelledSplit = (
  labels: Uint8Array,
  fraction: number,
  seed: number,
  classes = 10,
  perClass?: number,
): { labelled: number[]; unlabelled: number[] } => {
  const r = derive(seed, 'labelledSplit')
  const byClass: number[][] = Array.from({ length: classes }, () => [])
  labels.forEach((l, i) => byClass[l]!.push(i))
  const labelled: number[] = []
  for (const members of byClass) {
    const k = perClass ?? Math.max(1, Math.round(members.length * fraction))
    const p = permutation(r, members.length)
    for (let i = 0; i < k && i < members.length; i++) labelled.push(members[p[i]!]!)
  }
  const chosen = new Set(labelled)
  return { labelled: labelled.sort((a, b) => a - b), unlabelled: labels.reduce<number[]>((acc, _l, i) => (chosen.has(i) ? acc : (acc.push(i), acc)), []) }
}
