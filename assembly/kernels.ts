/**
 * polyak's WebAssembly SIMD kernels (AssemblyScript), run on tfjs-backend-wasm's own memory.
 *
 * The module imports tfjs-wasm's `memory` and has no data segments, globals in memory or
 * allocations: every pointer argument is the byte offset of a tensor (or of scratch space) that
 * the caller allocated through the backend. All arithmetic is float32 in the order the composed
 * tfjs ops use (no fused multiply-add), except where a comment says float64.
 *
 * Layouts: a per-channel kernel views its input as `[A, C, B]` (row-major), with one statistic or
 * coefficient per `c`. Channels last (`B = 1`, BatchNorm's NHWC) vectorises across channels;
 * otherwise (OIHW filters, `A = 1`) it vectorises along the contiguous `B` run of each channel.
 */

const BLOCK: i32 = 64 // rows summed in float32 before they are added to the float64 totals

// -------------------------------------------------------------------------------------------------
// axpby

/** `out[i] = α·x[i] + β·y[i]` for `i < n`; `out` may be `x` (in place) since each element is read before it is written. */
export function axpby(out: usize, x: usize, y: usize, n: i32, alpha: f32, beta: f32): void {
  const a = f32x4.splat(alpha)
  const b = f32x4.splat(beta)
  const n16 = n & ~15
  let i = 0
  for (; i < n16; i += 16) {
    const o = <usize>i << 2
    const x0 = v128.load(x + o, 0)
    const x1 = v128.load(x + o, 16)
    const x2 = v128.load(x + o, 32)
    const x3 = v128.load(x + o, 48)
    const y0 = v128.load(y + o, 0)
    const y1 = v128.load(y + o, 16)
    const y2 = v128.load(y + o, 32)
    const y3 = v128.load(y + o, 48)
    v128.store(out + o, f32x4.add(f32x4.mul(a, x0), f32x4.mul(b, y0)), 0)
    v128.store(out + o, f32x4.add(f32x4.mul(a, x1), f32x4.mul(b, y1)), 16)
    v128.store(out + o, f32x4.add(f32x4.mul(a, x2), f32x4.mul(b, y2)), 32)
    v128.store(out + o, f32x4.add(f32x4.mul(a, x3), f32x4.mul(b, y3)), 48)
  }
  for (; i < n; i++) {
    const o = <usize>i << 2
    store<f32>(out + o, alpha * load<f32>(x + o) + beta * load<f32>(y + o))
  }
}

// -------------------------------------------------------------------------------------------------
// per-channel moments

/** `acc[c] = 0` for `c < n` (float32 or float64 words of `size` bytes). */
function zero(acc: usize, bytes: i32): void {
  memory.fill(acc, 0, <usize>bytes)
}

/** Adds the float32 block sums to the float64 totals and clears the block. */
function flush(acc32: usize, acc64: usize, c: i32): void {
  for (let j = 0; j < c; j++) {
    const p64 = acc64 + (<usize>j << 3)
    store<f64>(p64, load<f64>(p64) + <f64>load<f32>(acc32 + (<usize>j << 2)))
  }
  zero(acc32, c << 2)
}

/**
 * Sums `x` (channels last, `[rows, c]`) per channel into the float64 totals at `acc64`, after
 * subtracting `center[c]` and squaring when `squares` is set: `Σ_r x[r,c]` or `Σ_r (x[r,c] − center[c])²`.
 * Rows are added in float32 blocks of `BLOCK`, the blocks in float64.
 */
function sumColumns(x: usize, rows: i32, c: i32, center: usize, squares: bool, acc32: usize, acc64: usize): void {
  zero(acc32, c << 2)
  zero(acc64, c << 3)
  const c4 = c & ~3
  for (let r0 = 0; r0 < rows; r0 += BLOCK) {
    const r1 = min(rows, r0 + BLOCK)
    for (let r = r0; r < r1; r++) {
      const row = x + ((<usize>r * <usize>c) << 2)
      let j = 0
      for (; j < c4; j += 4) {
        const o = <usize>j << 2
        let v = v128.load(row + o)
        if (squares) {
          v = f32x4.sub(v, v128.load(center + o))
          v = f32x4.mul(v, v)
        }
        v128.store(acc32 + o, f32x4.add(v128.load(acc32 + o), v))
      }
      for (; j < c; j++) {
        const o = <usize>j << 2
        let v = load<f32>(row + o)
        if (squares) {
          v -= load<f32>(center + o)
          v *= v
        }
        store<f32>(acc32 + o, load<f32>(acc32 + o) + v)
      }
    }
    flush(acc32, acc64, c)
  }
}

/** Float32 sum of `n` floats at `p` (minus `center`, squared, when `squares`), in four SIMD lanes. */
function sumRun(p: usize, n: i32, center: f32, squares: bool): f32 {
  const m = f32x4.splat(center)
  let acc = f32x4.splat(0)
  const n4 = n & ~3
  let i = 0
  for (; i < n4; i += 4) {
    let v = v128.load(p + (<usize>i << 2))
    if (squares) {
      v = f32x4.sub(v, m)
      v = f32x4.mul(v, v)
    }
    acc = f32x4.add(acc, v)
  }
  let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3))
  for (; i < n; i++) {
    let v = load<f32>(p + (<usize>i << 2))
    if (squares) {
      v -= center
      v *= v
    }
    s += v
  }
  return s
}

/** Sums `x` viewed as `[a, c, b]` per channel over `a` and `b` into float64 totals (`b > 1` layout). */
function sumRuns(x: usize, a: i32, c: i32, b: i32, center: usize, squares: bool, acc64: usize): void {
  zero(acc64, c << 3)
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < c; j++) {
      const run = x + ((<usize>(i * c + j) * <usize>b) << 2)
      // runs longer than a block are split so float32 sums stay short
      for (let k0 = 0; k0 < b; k0 += BLOCK * 4) {
        const len = min(b - k0, BLOCK * 4)
        const s = sumRun(run + (<usize>k0 << 2), len, squares ? load<f32>(center + (<usize>j << 2)) : 0, squares)
        const p64 = acc64 + (<usize>j << 3)
        store<f64>(p64, load<f64>(p64) + <f64>s)
      }
    }
  }
}

/**
 * Per-channel mean and biased variance of `x` viewed as `[a, c, b]`:
 * `mean[c] = Σ x / n`, `variance[c] = Σ (x − mean[c])² / n` with `n = a·b`, two passes, totals in
 * float64. `scratch` holds `12·c` bytes (float32 block sums, then float64 totals).
 */
export function moments(x: usize, a: i32, c: i32, b: i32, mean: usize, variance: usize, scratch: usize): void {
  const acc32 = scratch
  const acc64 = scratch + (<usize>c << 2)
  const n = <f64>a * <f64>b
  if (b === 1) sumColumns(x, a, c, 0, false, acc32, acc64)
  else sumRuns(x, a, c, b, 0, false, acc64)
  for (let j = 0; j < c; j++) store<f32>(mean + (<usize>j << 2), <f32>(load<f64>(acc64 + (<usize>j << 3)) / n))
  if (b === 1) sumColumns(x, a, c, mean, true, acc32, acc64)
  else sumRuns(x, a, c, b, mean, true, acc64)
  for (let j = 0; j < c; j++) store<f32>(variance + (<usize>j << 2), <f32>(load<f64>(acc64 + (<usize>j << 3)) / n))
}

// -------------------------------------------------------------------------------------------------
// per-channel normalisation

/** `out[a,c,b] = (x[a,c,b] − center[c])·scale[c] + offset[c]`; `out` may be `x`. */
export function normalize(x: usize, a: i32, c: i32, b: i32, center: usize, scale: usize, offset: usize, out: usize): void {
  if (b === 1) {
    const c4 = c & ~3
    for (let r = 0; r < a; r++) {
      const o = (<usize>r * <usize>c) << 2
      let j = 0
      for (; j < c4; j += 4) {
        const k = <usize>j << 2
        const v = f32x4.sub(v128.load(x + o + k), v128.load(center + k))
        v128.store(out + o + k, f32x4.add(f32x4.mul(v, v128.load(scale + k)), v128.load(offset + k)))
      }
      for (; j < c; j++) {
        const k = <usize>j << 2
        store<f32>(out + o + k, (load<f32>(x + o + k) - load<f32>(center + k)) * load<f32>(scale + k) + load<f32>(offset + k))
      }
    }
    return
  }
  const b4 = b & ~3
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < c; j++) {
      const k = <usize>j << 2
      const m = load<f32>(center + k)
      const s = load<f32>(scale + k)
      const t = load<f32>(offset + k)
      const mv = f32x4.splat(m)
      const sv = f32x4.splat(s)
      const tv = f32x4.splat(t)
      const run = (<usize>(i * c + j) * <usize>b) << 2
      let q = 0
      for (; q < b4; q += 4) {
        const o = run + (<usize>q << 2)
        v128.store(out + o, f32x4.add(f32x4.mul(f32x4.sub(v128.load(x + o), mv), sv), tv))
      }
      for (; q < b; q++) {
        const o = run + (<usize>q << 2)
        store<f32>(out + o, (load<f32>(x + o) - m) * s + t)
      }
    }
  }
}

/**
 * The reductions of `normalize`'s gradient, per channel of `[a, c, b]`:
 * `sumDy[c] = Σ dy`, `sumDyCentered[c] = Σ dy·(x − center[c])` (float32 blocks, float64 totals).
 * `scratch` holds `24·c` bytes.
 */
export function normalizeGradSums(dy: usize, x: usize, a: i32, c: i32, b: i32, center: usize, sumDy: usize, sumDyCentered: usize, scratch: usize): void {
  const s32 = scratch
  const p32 = scratch + (<usize>c << 2)
  const s64 = scratch + (<usize>c << 3)
  const p64 = scratch + (<usize>c << 4)
  zero(s64, c << 4)
  if (b === 1) {
    zero(s32, c << 3)
    const c4 = c & ~3
    for (let r0 = 0; r0 < a; r0 += BLOCK) {
      const r1 = min(a, r0 + BLOCK)
      for (let r = r0; r < r1; r++) {
        const o = (<usize>r * <usize>c) << 2
        let j = 0
        for (; j < c4; j += 4) {
          const k = <usize>j << 2
          const g = v128.load(dy + o + k)
          const d = f32x4.sub(v128.load(x + o + k), v128.load(center + k))
          v128.store(s32 + k, f32x4.add(v128.load(s32 + k), g))
          v128.store(p32 + k, f32x4.add(v128.load(p32 + k), f32x4.mul(g, d)))
        }
        for (; j < c; j++) {
          const k = <usize>j << 2
          const g = load<f32>(dy + o + k)
          store<f32>(s32 + k, load<f32>(s32 + k) + g)
          store<f32>(p32 + k, load<f32>(p32 + k) + g * (load<f32>(x + o + k) - load<f32>(center + k)))
        }
      }
      flush(s32, s64, c)
      flush(p32, p64, c)
    }
  } else {
    for (let i = 0; i < a; i++) {
      for (let j = 0; j < c; j++) {
        const k = <usize>j << 2
        const mv = f32x4.splat(load<f32>(center + k))
        const run = (<usize>(i * c + j) * <usize>b) << 2
        let sg = f32x4.splat(0)
        let sp = f32x4.splat(0)
        let sgs: f32 = 0
        let sps: f32 = 0
        let q = 0
        const b4 = b & ~3
        for (; q < b4; q += 4) {
          const o = run + (<usize>q << 2)
          const g = v128.load(dy + o)
          sg = f32x4.add(sg, g)
          sp = f32x4.add(sp, f32x4.mul(g, f32x4.sub(v128.load(x + o), mv)))
        }
        for (; q < b; q++) {
          const o = run + (<usize>q << 2)
          const g = load<f32>(dy + o)
          sgs += g
          sps += g * (load<f32>(x + o) - load<f32>(center + k))
        }
        const k64 = <usize>j << 3
        sgs += f32x4.extract_lane(sg, 0) + f32x4.extract_lane(sg, 1) + (f32x4.extract_lane(sg, 2) + f32x4.extract_lane(sg, 3))
        sps += f32x4.extract_lane(sp, 0) + f32x4.extract_lane(sp, 1) + (f32x4.extract_lane(sp, 2) + f32x4.extract_lane(sp, 3))
        store<f64>(s64 + k64, load<f64>(s64 + k64) + <f64>sgs)
        store<f64>(p64 + k64, load<f64>(p64 + k64) + <f64>sps)
      }
    }
  }
  for (let j = 0; j < c; j++) {
    store<f32>(sumDy + (<usize>j << 2), <f32>load<f64>(s64 + (<usize>j << 3)))
    store<f32>(sumDyCentered + (<usize>j << 2), <f32>load<f64>(p64 + (<usize>j << 3)))
  }
}

// -------------------------------------------------------------------------------------------------
// convolution filter gradient

/**
 * Transposed im2col of an NHWC input for a `kh×kw` convolution with strides `sh, sw` and padding
 * `top, left`: `out[(i·kw + j)·ci + ch, p] = x[n, y·sh + i − top, x·sw + j − left, ch]` (0 outside
 * the image) for output position `p = (n·oh + y)·ow + x`, so that `∂L/∂W = out · dy` is one plain
 * matrix product.
 */
export function im2colT(x: usize, n: i32, h: i32, w: i32, ci: i32, kh: i32, kw: i32, sh: i32, sw: i32, top: i32, left: i32, oh: i32, ow: i32, out: usize): void {
  const positions = <usize>n * <usize>oh * <usize>ow
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let ch = 0; ch < ci; ch++) {
        let dst = out + ((<usize>((i * kw + j) * ci + ch) * positions) << 2)
        for (let b = 0; b < n; b++) {
          for (let y = 0; y < oh; y++) {
            const iy = y * sh + i - top
            if (iy < 0 || iy >= h) {
              memory.fill(dst, 0, <usize>ow << 2)
              dst += <usize>ow << 2
              continue
            }
            const rowBase = x + ((<usize>((b * h + iy) * w) * <usize>ci + <usize>ch) << 2)
            for (let xo = 0; xo < ow; xo++) {
              const ix = xo * sw + j - left
              store<f32>(dst, ix >= 0 && ix < w ? load<f32>(rowBase + ((<usize>ix * <usize>ci) << 2)) : 0)
              dst += 4
            }
          }
        }
      }
    }
  }
}
