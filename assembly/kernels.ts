/**
 * polyak's WebAssembly SIMD kernels (AssemblyScript), run on tfjs-backend-wasm's own memory.
 *
 * The module imports tfjs-wasm's `memory` and has no data segments, globals in memory or
 * allocations: every pointer argument is the byte offset of a tensor (or of scratch space) that
 * the caller allocated through the backend. All arithmetic is float32 in the order the composed
 * tfjs ops use (no fused multiply-add), except where a comment says float64, and the convolutions,
 * whose sums run in the order their doc comments give (as XNNPACK's run in its own).
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
 * subtracting `center[c]` and squaring when `squares` is set: `Σ_r (x[r,c] − center[c])` or
 * `Σ_r (x[r,c] − center[c])²`. Rows are added in float32 blocks of `BLOCK`, the blocks in float64.
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
        let v = f32x4.sub(v128.load(row + o), v128.load(center + o))
        if (squares) v = f32x4.mul(v, v)
        v128.store(acc32 + o, f32x4.add(v128.load(acc32 + o), v))
      }
      for (; j < c; j++) {
        const o = <usize>j << 2
        let v = load<f32>(row + o) - load<f32>(center + o)
        if (squares) v *= v
        store<f32>(acc32 + o, load<f32>(acc32 + o) + v)
      }
    }
    flush(acc32, acc64, c)
  }
}

/** Float32 sum of `n` floats at `p` minus `center` (squared when `squares`), in four SIMD lanes. */
function sumRun(p: usize, n: i32, center: f32, squares: bool): f32 {
  const m = f32x4.splat(center)
  let acc = f32x4.splat(0)
  const n4 = n & ~3
  let i = 0
  for (; i < n4; i += 4) {
    let v = f32x4.sub(v128.load(p + (<usize>i << 2)), m)
    if (squares) v = f32x4.mul(v, v)
    acc = f32x4.add(acc, v)
  }
  let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3))
  for (; i < n; i++) {
    let v = load<f32>(p + (<usize>i << 2)) - center
    if (squares) v *= v
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
        const s = sumRun(run + (<usize>k0 << 2), len, load<f32>(center + (<usize>j << 2)), squares)
        const p64 = acc64 + (<usize>j << 3)
        store<f64>(p64, load<f64>(p64) + <f64>s)
      }
    }
  }
}

/**
 * Per-channel mean and biased variance of `x` viewed as `[a, c, b]`, two passes, totals in float64:
 * `mean[c] = s_c + Σ (x − s_c) / n` around the shift `s_c` = the channel's first element, then
 * `variance[c] = Σ (x − mean[c])² / n`, with `n = a·b`. The shift keeps the float32 block sums
 * small, so a constant channel gives its value exactly (and a variance of 0). `scratch` holds
 * `12·c` bytes (float32 block sums, then float64 totals).
 */
export function moments(x: usize, a: i32, c: i32, b: i32, mean: usize, variance: usize, scratch: usize): void {
  const acc32 = scratch
  const acc64 = scratch + (<usize>c << 2)
  const n = <f64>a * <f64>b
  // the shifts, kept in the mean's slots until the mean replaces them
  for (let j = 0; j < c; j++) store<f32>(mean + (<usize>j << 2), load<f32>(x + ((<usize>(j * b)) << 2)))
  if (b === 1) sumColumns(x, a, c, mean, false, acc32, acc64)
  else sumRuns(x, a, c, b, mean, false, acc64)
  for (let j = 0; j < c; j++) {
    const p = mean + (<usize>j << 2)
    store<f32>(p, <f32>(<f64>load<f32>(p) + load<f64>(acc64 + (<usize>j << 3)) / n))
  }
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
  const rowStride = positions << 2 // bytes between consecutive rows of `out`
  const ci4 = ci & ~3
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const tap = out + ((<usize>((i * kw + j) * ci) * positions) << 2)
      // output columns whose input column is inside the image: xo ∈ [x0, x1)
      let x0 = 0
      while (x0 < ow && x0 * sw + j - left < 0) x0++
      let x1 = ow
      while (x1 > x0 && (x1 - 1) * sw + j - left >= w) x1--
      for (let b = 0; b < n; b++) {
        for (let y = 0; y < oh; y++) {
          const p0 = <usize>((b * oh + y) * ow) << 2 // byte offset of this output row within each row of `out`
          const iy = y * sh + i - top
          if (iy < 0 || iy >= h) {
            for (let ch = 0; ch < ci; ch++) memory.fill(tap + <usize>ch * rowStride + p0, 0, <usize>ow << 2)
            continue
          }
          const src = x + ((<usize>((b * h + iy) * w) * <usize>ci) << 2)
          for (let ch = 0; ch < ci; ch++) {
            const dst = tap + <usize>ch * rowStride + p0
            if (x0 > 0) memory.fill(dst, 0, <usize>x0 << 2)
            if (x1 < ow) memory.fill(dst + (<usize>x1 << 2), 0, <usize>(ow - x1) << 2)
          }
          // 4 channels × 4 columns at a time: load four pixels' channel quads, transpose, store four row quads
          let xo = x0
          if (ci4 > 0) {
            for (; xo + 4 <= x1; xo += 4) {
              const at = src + ((<usize>(xo * sw + j - left) * <usize>ci) << 2)
              const step = (<usize>(sw * ci)) << 2
              for (let ch = 0; ch < ci4; ch += 4) {
                const c = <usize>ch << 2
                const v0 = v128.load(at + c)
                const v1 = v128.load(at + step + c)
                const v2 = v128.load(at + 2 * step + c)
                const v3 = v128.load(at + 3 * step + c)
                const t0 = v128.shuffle<f32>(v0, v1, 0, 4, 1, 5)
                const t1 = v128.shuffle<f32>(v0, v1, 2, 6, 3, 7)
                const t2 = v128.shuffle<f32>(v2, v3, 0, 4, 1, 5)
                const t3 = v128.shuffle<f32>(v2, v3, 2, 6, 3, 7)
                const dst = tap + <usize>ch * rowStride + p0 + (<usize>xo << 2)
                v128.store(dst, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5))
                v128.store(dst + rowStride, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7))
                v128.store(dst + 2 * rowStride, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5))
                v128.store(dst + 3 * rowStride, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7))
              }
              for (let ch = ci4; ch < ci; ch++) {
                const dst = tap + <usize>ch * rowStride + p0 + (<usize>xo << 2)
                for (let k = 0; k < 4; k++) store<f32>(dst + (<usize>k << 2), load<f32>(at + <usize>k * step + (<usize>ch << 2)))
              }
            }
          }
          for (; xo < x1; xo++) {
            const at = src + ((<usize>(xo * sw + j - left) * <usize>ci) << 2)
            for (let ch = 0; ch < ci; ch++) store<f32>(tap + <usize>ch * rowStride + p0 + (<usize>xo << 2), load<f32>(at + (<usize>ch << 2)))
          }
        }
      }
    }
  }
}

// -------------------------------------------------------------------------------------------------
// activation and pooling gradients

/** `out[i] = x[i] > 0 ? dy[i] : 0`: the ReLU gradient in one pass. */
export function reluGrad(out: usize, dy: usize, x: usize, n: i32): void {
  const zero = f32x4.splat(0)
  const n4 = n & ~3
  let i = 0
  for (; i < n4; i += 4) {
    const o = <usize>i << 2
    v128.store(out + o, v128.and(v128.load(dy + o), f32x4.gt(v128.load(x + o), zero)))
  }
  for (; i < n; i++) {
    const o = <usize>i << 2
    store<f32>(out + o, load<f32>(x + o) > 0 ? load<f32>(dy + o) : 0)
  }
}

/**
 * Walks the 2×2 windows of an NHWC `big` (`[n, h, w, c]`, odd trailing rows and columns left out)
 * against the matching pixels of `small` (`[n, h/2, w/2, c]`): forward,
 * `small = ¼·((x00 + x01) + (x10 + x11))`; backward, each window's four pixels = `¼·small`.
 * Inlined into both kernels, so each gets the branch it takes folded away.
 */
@inline function pool2Windows(big: usize, small: usize, n: i32, h: i32, w: i32, c: i32, backward: bool): void {
  const oh = h >> 1
  const ow = w >> 1
  const quarter = f32x4.splat(0.25)
  const c4 = c & ~3
  const rowBytes = <usize>w * <usize>c << 2
  let at = small
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      const top = big + ((<usize>(b * h + 2 * y) * <usize>w * <usize>c) << 2)
      for (let xo = 0; xo < ow; xo++) {
        const p = top + ((<usize>(2 * xo) * <usize>c) << 2)
        const q = p + (<usize>c << 2)
        let j = 0
        for (; j < c4; j += 4) {
          const k = <usize>j << 2
          if (backward) {
            const g = f32x4.mul(v128.load(at + k), quarter)
            v128.store(p + k, g)
            v128.store(q + k, g)
            v128.store(p + rowBytes + k, g)
            v128.store(q + rowBytes + k, g)
          } else {
            const s = f32x4.add(f32x4.add(v128.load(p + k), v128.load(q + k)), f32x4.add(v128.load(p + rowBytes + k), v128.load(q + rowBytes + k)))
            v128.store(at + k, f32x4.mul(s, quarter))
          }
        }
        for (; j < c; j++) {
          const k = <usize>j << 2
          if (backward) {
            const g = load<f32>(at + k) * 0.25
            store<f32>(p + k, g)
            store<f32>(q + k, g)
            store<f32>(p + rowBytes + k, g)
            store<f32>(q + rowBytes + k, g)
          } else {
            store<f32>(at + k, (load<f32>(p + k) + load<f32>(q + k) + (load<f32>(p + rowBytes + k) + load<f32>(q + rowBytes + k))) * 0.25)
          }
        }
        at += <usize>c << 2
      }
    }
  }
}

/**
 * 2×2 average pooling, stride 2, of an NHWC `x` (`[n, h, w, c]`; odd trailing rows and columns are
 * dropped): `out[b, y, x, ch] = ¼·Σ x[b, 2y + i, 2x + j, ch]`, summed as `(x00 + x01) + (x10 + x11)`.
 */
export function avgPool2(x: usize, n: i32, h: i32, w: i32, c: i32, out: usize): void {
  pool2Windows(x, out, n, h, w, c, false)
}

/** The gradient of `avgPool2`: `dx[b, 2y + i, 2x + j, ch] = ¼·dy[b, y, x, ch]`, 0 in dropped rows and columns. */
export function avgPool2Grad(dy: usize, n: i32, h: i32, w: i32, c: i32, out: usize): void {
  memory.fill(out, 0, (<usize>n * <usize>h * <usize>w * <usize>c) << 2)
  pool2Windows(out, dy, n, h, w, c, true)
}

// -------------------------------------------------------------------------------------------------
// matrix product with few rows

/**
 * `out[m×n] = a[m×k]·b[k×n]` for a small `m` (the filter gradient of a first conv layer is 9×50 176
 * times 50 176×32, a shape general GEMM kernels handle poorly): `b` is streamed once per block of
 * 16 columns and 3 rows of `a`, with the 12 column accumulators in registers; float32 sums over `k`
 * in `k` order.
 */
export function matMulFewRows(a: usize, b: usize, m: i32, k: i32, n: i32, out: usize): void {
  const n16 = n & ~15
  const rowB = <usize>n << 2
  const rowA = <usize>k << 2
  for (let c0 = 0; c0 < n16; c0 += 16) {
    const bc = b + (<usize>c0 << 2)
    let r = 0
    for (; r + 3 <= m; r += 3) {
      const a0 = a + <usize>r * rowA
      const a1 = a0 + rowA
      const a2 = a1 + rowA
      let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s02 = f32x4.splat(0), s03 = f32x4.splat(0)
      let s10 = f32x4.splat(0), s11 = f32x4.splat(0), s12 = f32x4.splat(0), s13 = f32x4.splat(0)
      let s20 = f32x4.splat(0), s21 = f32x4.splat(0), s22 = f32x4.splat(0), s23 = f32x4.splat(0)
      let p = bc
      for (let q = 0; q < k; q++) {
        const o = <usize>q << 2
        const b0 = v128.load(p, 0)
        const b1 = v128.load(p, 16)
        const b2 = v128.load(p, 32)
        const b3 = v128.load(p, 48)
        const x0 = f32x4.splat(load<f32>(a0 + o))
        const x1 = f32x4.splat(load<f32>(a1 + o))
        const x2 = f32x4.splat(load<f32>(a2 + o))
        s00 = f32x4.add(s00, f32x4.mul(x0, b0)); s01 = f32x4.add(s01, f32x4.mul(x0, b1)); s02 = f32x4.add(s02, f32x4.mul(x0, b2)); s03 = f32x4.add(s03, f32x4.mul(x0, b3))
        s10 = f32x4.add(s10, f32x4.mul(x1, b0)); s11 = f32x4.add(s11, f32x4.mul(x1, b1)); s12 = f32x4.add(s12, f32x4.mul(x1, b2)); s13 = f32x4.add(s13, f32x4.mul(x1, b3))
        s20 = f32x4.add(s20, f32x4.mul(x2, b0)); s21 = f32x4.add(s21, f32x4.mul(x2, b1)); s22 = f32x4.add(s22, f32x4.mul(x2, b2)); s23 = f32x4.add(s23, f32x4.mul(x2, b3))
        p += rowB
      }
      const o0 = out + ((<usize>r * <usize>n + <usize>c0) << 2)
      const o1 = o0 + rowB
      const o2 = o1 + rowB
      v128.store(o0, s00, 0); v128.store(o0, s01, 16); v128.store(o0, s02, 32); v128.store(o0, s03, 48)
      v128.store(o1, s10, 0); v128.store(o1, s11, 16); v128.store(o1, s12, 32); v128.store(o1, s13, 48)
      v128.store(o2, s20, 0); v128.store(o2, s21, 16); v128.store(o2, s22, 32); v128.store(o2, s23, 48)
    }
    for (; r < m; r++) {
      const a0 = a + <usize>r * rowA
      let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0)
      let p = bc
      for (let q = 0; q < k; q++) {
        const x0 = f32x4.splat(load<f32>(a0 + (<usize>q << 2)))
        s0 = f32x4.add(s0, f32x4.mul(x0, v128.load(p, 0)))
        s1 = f32x4.add(s1, f32x4.mul(x0, v128.load(p, 16)))
        s2 = f32x4.add(s2, f32x4.mul(x0, v128.load(p, 32)))
        s3 = f32x4.add(s3, f32x4.mul(x0, v128.load(p, 48)))
        p += rowB
      }
      const o0 = out + ((<usize>r * <usize>n + <usize>c0) << 2)
      v128.store(o0, s0, 0); v128.store(o0, s1, 16); v128.store(o0, s2, 32); v128.store(o0, s3, 48)
    }
  }
  for (let c = n16; c < n; c++) {
    for (let r = 0; r < m; r++) {
      let s: f32 = 0
      for (let q = 0; q < k; q++) s += load<f32>(a + <usize>r * rowA + (<usize>q << 2)) * load<f32>(b + <usize>q * rowB + (<usize>c << 2))
      store<f32>(out + ((<usize>r * <usize>n + <usize>c) << 2), s)
    }
  }
}

// -------------------------------------------------------------------------------------------------
// convolutions (NHWC, HWIO filters)

/** Output channels per register tile of the convolutions: two `f32x4` accumulators per pixel. */
const TILE_O: i32 = 8

/**
 * Packs a filter for `conv2d`: `out[o/8][t][c][o%8] = F[t, c, o]` for tap `t = i·kw + j`, reduction
 * channel `c < C` and output channel `o < O` (`O` a multiple of 8), so the convolution reads each
 * tile's weights as one contiguous run. `transposed = 0`: `F[t, c, o] = f[t, c, o]` (`f` is
 * `[kh, kw, C, O]`, a forward filter); `transposed = 1`: `F[t, c, o] = f[t, o, c]` (`f` is
 * `[kh, kw, O, C]`: the filter of the forward convolution whose input gradient this computes).
 */
export function packConvFilter(f: usize, taps: i32, C: i32, O: i32, transposed: i32, out: usize): void {
  for (let o0 = 0; o0 < O; o0 += TILE_O) {
    for (let t = 0; t < taps; t++) {
      for (let c = 0; c < C; c++) {
        const dst = out + ((<usize>(((o0 >> 3) * taps + t) * C + c)) << 5)
        if (transposed == 0) {
          const src = f + ((<usize>((t * C + c) * O + o0)) << 2)
          v128.store(dst, v128.load(src))
          v128.store(dst, v128.load(src, 16), 16)
        } else {
          const src = f + ((<usize>((t * O + o0) * C + c)) << 2)
          const step = <usize>C << 2
          for (let k = 0; k < TILE_O; k++) store<f32>(dst + (<usize>k << 2), load<f32>(src + <usize>k * step))
        }
      }
    }
  }
}

/** Bytes of the address tables `conv2d` keeps at `ptrs`: 4 input addresses per tap, the group's 4 output addresses, and one offset per tap. */
export function conv2dTableBytes(taps: i32): i32 {
  return (taps << 4) + 16 + (taps << 2)
}

/**
 * A convolution by register tiles of 4 output pixels × 8 output channels:
 * `out[p, o] = Σ_{t, c} x[src(p, t), c] · F[t, c, o]` for the flat output pixel `p = (b·oh + y)·ow + x`
 * of `out` (`[n, oh, ow, O]`), with `F` packed by `packConvFilter` and `src(p, t)` the input pixel
 * that tap `t = (i, j)` reads, or none (a zero):
 *
 * - `transposed = 0`, the forward convolution of `x` (`[n, h, w, C]`): row `y·sh + i − top`,
 *   column `x·sw + j − left`, when inside the image;
 * - `transposed = 1`, the input gradient of a forward convolution whose output gradient `x` is
 *   (`[n, h, w, C]`, `h × w` the forward output): row `(y + top − i)/sh`, column
 *   `(x + left − j)/sw`, when both divisions are exact and inside.
 *
 * Per group of 4 pixels, each tap's 4 input addresses are worked out once into `ptrs` (`16·taps`
 * bytes, then the 4 output addresses, 16 more, then the taps' offsets for a window inside the image,
 * `4·taps`: `conv2dTableBytes` in all; the zero run at `zeros`, `C` floats, stands in for a missing
 * pixel) and serve every tile of output channels; a tap that misses all 4 is skipped.
 * With `transposed = 1` each output row is walked in classes of `x mod sw`, so that a group's
 * pixels miss the same taps: at stride 2 a 3×3 gradient skips 5 of 9 taps per group on average
 * instead of computing on zeros. Sums are float32 over `t`, then `c`, in that order.
 */
export function conv2d(
  x: usize,
  n: i32,
  h: i32,
  w: i32,
  C: i32,
  packed: usize,
  kh: i32,
  kw: i32,
  O: i32,
  sh: i32,
  sw: i32,
  top: i32,
  left: i32,
  oh: i32,
  ow: i32,
  transposed: i32,
  zeros: usize,
  ptrs: usize,
  out: usize,
): void {
  memory.fill(zeros, 0, <usize>C << 2)
  const pixels = n * oh * ow
  const plane = oh * ow
  const taps = kh * kw
  const tileBytes = <usize>(taps * C) << 5
  // the transposed window at a column stride: each row's pixels in classes of `x mod sw`, so that a
  // group of 4 (within a class) has the same valid taps and the others are skipped
  const classes = transposed != 0 ? sw : 1
  const outs = ptrs + (<usize>taps << 4) // the 4 pixels' output addresses (the layout of `conv2dTableBytes`)
  // a pixel whose window lies inside the image (every tap valid: the common case) takes its taps'
  // addresses as offsets from its first tap's; forward taps run right and down, the stride-1
  // transposed window's left and up
  const offsets = outs + 16
  const sign: i32 = transposed == 0 ? 1 : -1
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) store<i32>(offsets + (<usize>(i * kw + j) << 2), sign * (((i * w + j) * C) << 2))
  const direct = transposed == 0 || (sh == 1 && sw == 1)
  for (let p = 0; p < pixels; p += 4) {
    // the last group may run past the end: its missing pixels repeat the last one and are not stored
    for (let k = 0; k < 4; k++) {
      const q = min(p + k, pixels - 1)
      const b = q / plane
      const r = q - b * plane
      const y = r / ow
      let m = r - y * ow
      let cls = 0
      for (; cls < classes - 1; cls++) {
        const count = (ow - cls + classes - 1) / classes
        if (m < count) break
        m -= count
      }
      const xo = cls + m * classes
      store<u32>(outs + (<usize>k << 2), <u32>(out + ((<usize>((b * oh + y) * ow + xo) * <usize>O) << 2)))
      // the first tap's input pixel, and the last's
      const iy0 = transposed == 0 ? y * sh - top : y + top
      const ix0 = transposed == 0 ? xo * sw - left : xo + left
      const iy1 = iy0 + sign * (kh - 1)
      const ix1 = ix0 + sign * (kw - 1)
      if (direct && min(iy0, iy1) >= 0 && max(iy0, iy1) < h && min(ix0, ix1) >= 0 && max(ix0, ix1) < w) {
        const first = <i32>x + ((((b * h + iy0) * w + ix0) * C) << 2)
        for (let t = 0; t < taps; t++) store<i32>(ptrs + (<usize>(t * 4 + k) << 2), first + load<i32>(offsets + (<usize>t << 2)))
        continue
      }
      for (let i = 0; i < kh; i++) {
        let iy = transposed == 0 ? y * sh + i - top : y + top - i
        let rowOk = iy >= 0
        if (transposed != 0 && rowOk) {
          rowOk = iy % sh == 0
          iy = iy / sh
        }
        rowOk = rowOk && iy < h
        for (let j = 0; j < kw; j++) {
          let ix = transposed == 0 ? xo * sw + j - left : xo + left - j
          let ok = rowOk && ix >= 0
          if (transposed != 0 && ok) {
            ok = ix % sw == 0
            ix = ix / sw
          }
          ok = ok && ix < w
          store<u32>(ptrs + (<usize>((i * kw + j) * 4 + k) << 2), ok ? <u32>(x + ((<usize>(((b * h + iy) * w + ix) * C)) << 2)) : <u32>zeros)
        }
      }
    }
    for (let o0 = 0; o0 < O; o0 += TILE_O) {
      let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s10 = f32x4.splat(0), s11 = f32x4.splat(0)
      let s20 = f32x4.splat(0), s21 = f32x4.splat(0), s30 = f32x4.splat(0), s31 = f32x4.splat(0)
      let pf = packed + <usize>(o0 >> 3) * tileBytes
      for (let t = 0; t < taps; t++) {
        const pt = ptrs + (<usize>t << 4)
        let p0 = <usize>load<u32>(pt)
        let p1 = <usize>load<u32>(pt, 4)
        let p2 = <usize>load<u32>(pt, 8)
        let p3 = <usize>load<u32>(pt, 12)
        if (p0 == zeros && p1 == zeros && p2 == zeros && p3 == zeros) {
          pf += <usize>C << 5 // a tap outside the image for all four pixels adds nothing
          continue
        }
        for (let c = 0; c < C; c++) {
          const d0 = v128.load(pf)
          const d1 = v128.load(pf, 16)
          const a0 = v128.load32_splat(p0)
          s00 = f32x4.add(s00, f32x4.mul(a0, d0))
          s01 = f32x4.add(s01, f32x4.mul(a0, d1))
          const a1 = v128.load32_splat(p1)
          s10 = f32x4.add(s10, f32x4.mul(a1, d0))
          s11 = f32x4.add(s11, f32x4.mul(a1, d1))
          const a2 = v128.load32_splat(p2)
          s20 = f32x4.add(s20, f32x4.mul(a2, d0))
          s21 = f32x4.add(s21, f32x4.mul(a2, d1))
          const a3 = v128.load32_splat(p3)
          s30 = f32x4.add(s30, f32x4.mul(a3, d0))
          s31 = f32x4.add(s31, f32x4.mul(a3, d1))
          p0 += 4
          p1 += 4
          p2 += 4
          p3 += 4
          pf += 32
        }
      }
      const at = <usize>o0 << 2
      const o0p = <usize>load<u32>(outs) + at
      v128.store(o0p, s00)
      v128.store(o0p, s01, 16)
      if (p + 1 < pixels) {
        const o1p = <usize>load<u32>(outs, 4) + at
        v128.store(o1p, s10)
        v128.store(o1p, s11, 16)
      }
      if (p + 2 < pixels) {
        const o2p = <usize>load<u32>(outs, 8) + at
        v128.store(o2p, s20)
        v128.store(o2p, s21, 16)
      }
      if (p + 3 < pixels) {
        const o3p = <usize>load<u32>(outs, 12) + at
        v128.store(o3p, s30)
        v128.store(o3p, s31, 16)
      }
    }
  }
}

/** Bytes of output gradient a chunk of output rows of `convFilterGrad` holds at most (kept in L1 across its tiles). */
const FILTER_GRAD_CHUNK_BYTES: i32 = 16384

/** Output rows per chunk of `convFilterGrad` (the caller sizes the run table `runs` by it: 12 bytes a row). */
export function convFilterGradChunkRows(ow: i32, co: i32): i32 {
  return max(1, FILTER_GRAD_CHUNK_BYTES / (ow * co * 4))
}

/**
 * The filter gradient of a convolution, `out[i, j, c, o] = Σ_{b, y, x} x[b, y·sh + i − top, x·sw + j − left, c] · dy[b, y, x, o]`
 * (`x` is `[n, h, w, ci]`, `dy` `[n, oh, ow, co]`, `out` `[kh, kw, ci, co]`; positions outside the
 * image add nothing), for `co` a multiple of 8, with no im2col buffer. The output rows
 * go in chunks (`convFilterGradChunkRows`, at most `FILTER_GRAD_CHUNK_BYTES` of `dy`); per chunk and
 * tap, the pixels inside the image are listed as runs in `runs` (x address, dy address, length; rows
 * whose runs continue each other in both tensors, as a stride-1 'same' tap's full rows do, join into
 * one), and register tiles of 4 input × 8 output channels accumulate over the runs, in float32, in
 * pixel order (input channels past the last four: tiles of one, the even and odd pixels summed
 * apart). Joined runs make the inner loop long: short rows were the kernel's cost (29 against
 * 41 GFLOP/s at [64,14,14,32]→64 on the machine of docs/profiles.md).
 */
export function convFilterGrad(
  x: usize,
  n: i32,
  h: i32,
  w: i32,
  ci: i32,
  dy: usize,
  oh: i32,
  ow: i32,
  co: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  top: i32,
  left: i32,
  runs: usize,
  out: usize,
): void {
  memory.fill(out, 0, <usize>(kh * kw * ci * co) << 2)
  const rows = n * oh
  const chunk = convFilterGradChunkRows(ow, co)
  const xStep = <usize>(sw * ci) << 2
  const dyStep = <usize>co << 2
  const outRow = <usize>co << 2
  const joins = ow * sw == sh * w
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const r1 = min(rows, r0 + chunk)
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        let x0 = 0
        while (x0 < ow && x0 * sw + j - left < 0) x0++
        let x1 = ow
        while (x1 > x0 && (x1 - 1) * sw + j - left >= w) x1--
        if (x1 <= x0) continue
        const full = joins && x0 == 0 && x1 == ow
        // the runs of this tap over the chunk: (x address at channel 0, dy address at channel 0, pixels)
        let count = 0
        let b = r0 / oh
        let y = r0 - b * oh
        let lastB = -1
        let lastY = -2
        for (let r = r0; r < r1; r++) {
          const iy = y * sh + i - top
          if (iy >= 0 && iy < h) {
            if (full && count > 0 && b == lastB && y == lastY + 1) {
              const e = runs + <usize>(count - 1) * 12
              store<i32>(e, load<i32>(e, 8) + ow, 8)
            } else {
              const e = runs + <usize>count * 12
              store<u32>(e, <u32>(x + ((<usize>(((b * h + iy) * w + x0 * sw + j - left) * ci)) << 2)))
              store<u32>(e, <u32>(dy + ((<usize>((r * ow + x0) * co)) << 2)), 4)
              store<i32>(e, x1 - x0, 8)
              count++
            }
            lastB = b
            lastY = y
          }
          y++
          if (y == oh) { y = 0; b++ }
        }
        for (let o0 = 0; o0 < co; o0 += TILE_O) {
          for (let c0 = 0; c0 + 4 <= ci; c0 += 4) {
            const at = out + ((<usize>(((i * kw + j) * ci + c0) * co + o0)) << 2)
            let s00 = v128.load(at), s01 = v128.load(at, 16)
            let s10 = v128.load(at + outRow), s11 = v128.load(at + outRow, 16)
            let s20 = v128.load(at + 2 * outRow), s21 = v128.load(at + 2 * outRow, 16)
            let s30 = v128.load(at + 3 * outRow), s31 = v128.load(at + 3 * outRow, 16)
            for (let k = 0; k < count; k++) {
              const e = runs + <usize>k * 12
              let px = <usize>load<u32>(e) + (<usize>c0 << 2)
              let pd = <usize>load<u32>(e, 4) + (<usize>o0 << 2)
              const m = load<i32>(e, 8)
              for (let q = 0; q < m; q++) {
                const d0 = v128.load(pd)
                const d1 = v128.load(pd, 16)
                const a0 = v128.load32_splat(px)
                s00 = f32x4.add(s00, f32x4.mul(a0, d0)); s01 = f32x4.add(s01, f32x4.mul(a0, d1))
                const a1 = v128.load32_splat(px, 4)
                s10 = f32x4.add(s10, f32x4.mul(a1, d0)); s11 = f32x4.add(s11, f32x4.mul(a1, d1))
                const a2 = v128.load32_splat(px, 8)
                s20 = f32x4.add(s20, f32x4.mul(a2, d0)); s21 = f32x4.add(s21, f32x4.mul(a2, d1))
                const a3 = v128.load32_splat(px, 12)
                s30 = f32x4.add(s30, f32x4.mul(a3, d0)); s31 = f32x4.add(s31, f32x4.mul(a3, d1))
                px += xStep
                pd += dyStep
              }
            }
            v128.store(at, s00); v128.store(at, s01, 16)
            v128.store(at + outRow, s10); v128.store(at + outRow, s11, 16)
            v128.store(at + 2 * outRow, s20); v128.store(at + 2 * outRow, s21, 16)
            v128.store(at + 3 * outRow, s30); v128.store(at + 3 * outRow, s31, 16)
          }
          // input channels past the last four (a first layer's 1 or 3): one channel × 8 outputs, the
          // even and odd pixels of a run in separate accumulators (two add chains each), added at the end
          for (let c = ci & ~3; c < ci; c++) {
            const at = out + ((<usize>(((i * kw + j) * ci + c) * co + o0)) << 2)
            let s0 = v128.load(at), s1 = v128.load(at, 16)
            let t0 = f32x4.splat(0), t1 = f32x4.splat(0)
            for (let k = 0; k < count; k++) {
              const e = runs + <usize>k * 12
              let px = <usize>load<u32>(e) + (<usize>c << 2)
              let pd = <usize>load<u32>(e, 4) + (<usize>o0 << 2)
              const m = load<i32>(e, 8)
              let q = 0
              for (; q + 2 <= m; q += 2) {
                const a0 = v128.load32_splat(px)
                const a1 = v128.load32_splat(px + xStep)
                s0 = f32x4.add(s0, f32x4.mul(a0, v128.load(pd)))
                s1 = f32x4.add(s1, f32x4.mul(a0, v128.load(pd, 16)))
                t0 = f32x4.add(t0, f32x4.mul(a1, v128.load(pd + dyStep)))
                t1 = f32x4.add(t1, f32x4.mul(a1, v128.load(pd + dyStep, 16)))
                px += xStep << 1
                pd += dyStep << 1
              }
              if (q < m) {
                const a0 = v128.load32_splat(px)
                s0 = f32x4.add(s0, f32x4.mul(a0, v128.load(pd)))
                s1 = f32x4.add(s1, f32x4.mul(a0, v128.load(pd, 16)))
              }
            }
            v128.store(at, f32x4.add(s0, t0))
            v128.store(at, f32x4.add(s1, t1), 16)
          }
        }
      }
    }
  }
}
