/**
 * Deterministic randomness: a seeded 32-bit generator (mulberry32) and the draws polyak needs
 * (uniform, normal, integers, permutations). Everything random in polyak's models, data splits,
 * batching and augmentation comes from here, so a seed reproduces a run on any backend.
 *
 * @module nn/random
 */

/** A random source: `next()` is uniform in [0, 1). `state` can be saved and restored. */
export interface Rng {
  next(): number
  readonly state: () => number
}

/** mulberry32 seeded with `seed` (any integer). */
export const rng = (seed: number): Rng => {
  let s = seed >>> 0
  return {
    next: () => {
      s = (s + 0x6d2b79f5) >>> 0
      let t = s
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    },
    state: () => s,
  }
}

/** A generator derived from `seed` and a label, so independent streams do not overlap. */
export const derive = (seed: number, label: string): Rng => {
  let h = seed >>> 0
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 2654435761) >>> 0
  return rng(h)
}

/** A standard normal draw (Box–Muller). */
export const normal = (r: Rng): number => {
  const u = Math.max(r.next(), 1e-12)
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.next())
}

/** An integer in [0, n). */
export const int = (r: Rng, n: number): number => Math.floor(r.next() * n)

/** A permutation of 0..n−1 (Fisher–Yates). */
export const permutation = (r: Rng, n: number): number[] => {
  const p = Array.from({ length: n }, (_, i) => i)
  for (let i = n - 1; i > 0; i--) {
    const j = int(r, i + 1)
    ;[p[i], p[j]] = [p[j]!, p[i]!]
  }
  return p
}
