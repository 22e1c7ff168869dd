/**
 * The jobs of `polyak bench` written for the TypeScript peer, jax-js (`@jax-js/jax`, a
 * devDependency): the EMA update of ResNet-18's tensors, a BatchNorm train forward, and the SGD
 * train steps of the small CNN and of the CIFAR ResNet-20, each the same network as the PyTorch
 * baseline of `bench/torch.ts` (NCHW, as jax-js convolves). Each job runs jitted (`jit`, jax-js's
 * kernel fusion) or eagerly, and checks its own output before it is timed.
 *
 * jax-js owns its arrays by reference counting: a function consumes its array arguments, `.ref`
 * keeps one for another use (its README, "Reference counting").
 *
 * @module bench/peerJobs
 */
import type * as Jax from '@jax-js/jax'

type A = Jax.numpy.Array
type JaxModule = typeof Jax

/** How a peer job runs: jitted, or op by op. */
export type PeerMode = 'jit' | 'eager'

/** A check that ran out of time: the job is too slow to time in this mode. */
export class TooSlow extends Error {}

/**
 * One job on jax-js: `check` says what is wrong (or undefined), throwing `TooSlow` once it has run
 * longer than `budgetMs`; `run` does one iteration and waits for it.
 */
export interface PeerJob {
  readonly name: string
  /** The `polyak bench` job it mirrors (a substring of that job's name). */
  readonly polyakJob: string
  readonly setup: (
    jax: JaxModule,
    mode: PeerMode,
  ) => Promise<{ check: (budgetMs: number) => Promise<string | undefined>; run: () => Promise<void>; dispose: () => void }>
}

/** Deterministic uniform(-1, 1) values. */
const fill = (n: number, seed: number): Float32Array => {
  const out = new Float32Array(n)
  let s = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    out[i] = ((s >>> 0) / 4294967296) * 2 - 1
  }
  return out
}

const arrayOf = (jax: JaxModule, shape: readonly number[], seed: number, scale = 1): A => {
  const n = shape.reduce((a, b) => a * b, 1)
  const v = fill(n, seed)
  if (scale !== 1) for (let i = 0; i < n; i++) v[i]! *= scale
  return jax.numpy.array(v).reshape([...shape])
}

const maybeJit = <F extends (...args: never[]) => unknown>(jax: JaxModule, mode: PeerMode, f: F): F =>
  mode === 'jit' ? (jax.jit(f as never) as unknown as F) : f

/** The EMA as jax-js computes it: `t' = d·t + (1 − d)·s` per tensor. */
const emaUpdate =
  (d: number) =>
  (t: A[], s: A[]): A[] =>
    t.map((x, i) => x.mul(d).add(s[i]!.mul(1 - d)))

/**
 * `t' = d·t + (1 − d)·s` over every tensor of a ResNet-18, d = 0.999 (the teacher is replaced by
 * its update); the check holds the result to that formula. `update` replaces the program under
 * check (a test plants a wrong one).
 */
export const emaJob = (shapes: readonly number[][], update: (d: number) => (t: A[], s: A[]) => A[] = emaUpdate): PeerJob => ({
  name: 'EMA update, ResNet-18 (11.7 M params, 62 tensors)',
  polyakJob: 'EMA update, ResNet-18 (11.7',
  setup: async (jax, mode) => {
    const d = 0.999
    let teacher = shapes.map((s, i) => arrayOf(jax, s, 1 + i))
    const student = shapes.map((s, i) => arrayOf(jax, s, 1000 + i))
    const program = maybeJit(jax, mode, update(d))
    const step = async () => {
      teacher = program(
        teacher,
        student.map((s) => s.ref),
      )
      await jax.blockUntilReady(teacher)
    }
    return {
      check: async () => {
        const before = await teacher[1]!.ref.data()
        const s = await student[1]!.ref.data()
        await step()
        const after = await teacher[1]!.ref.data()
        for (let i = 0; i < before.length; i += 97) {
          const want = d * before[i]! + (1 - d) * s[i]!
          if (Math.abs(after[i]! - want) > 1e-5 * (1 + Math.abs(want))) return `element ${i}: ${after[i]} instead of ${want}`
        }
        return undefined
      },
      run: step,
      dispose: () => {
        for (const a of [...teacher, ...student]) a.dispose()
      },
    }
  },
})

/** Per-channel batch statistics of NCHW `x` (biased variance, as BatchNorm normalises with). */
const moments = (jax: JaxModule, x: A): [A, A] => {
  const mean = x.ref.mean([0, 2, 3], { keepdims: true })
  const variance = jax.numpy.square(x.sub(mean.ref)).mean([0, 2, 3], { keepdims: true })
  return [mean, variance]
}

/** Train-mode BatchNorm of NCHW `x`: `γ·(x − μ_B)/√(σ²_B + ε) + β`, and the running statistics' update with momentum 0.1. */
const batchNorm = (jax: JaxModule, x: A, gamma: A, beta: A, running: { mean: A; variance: A }): { y: A; mean: A; variance: A } => {
  const [mean, variance] = moments(jax, x.ref)
  const c = gamma.shape[0]!
  const n = x.shape[0]! * x.shape[2]! * x.shape[3]!
  const scale = gamma.reshape([1, c, 1, 1]).mul(jax.numpy.reciprocal(jax.numpy.sqrt(variance.ref.add(1e-5))))
  const y = x
    .sub(mean.ref)
    .mul(scale)
    .add(beta.reshape([1, c, 1, 1]))
  return {
    y,
    mean: running.mean.mul(0.9).add(mean.reshape([c]).mul(0.1)),
    variance: running.variance.mul(0.9).add(variance.reshape([c]).mul((0.1 * n) / (n - 1))),
  }
}

/** BatchNorm train forward on [64, 64, 32, 32] (NCHW; polyak's job is NHWC [64, 32, 32, 64]), with the running statistics. */
export const bnForwardJob: PeerJob = {
  name: 'BN train forward [64,32,32,64]',
  polyakJob: 'BN train forward [64',
  setup: async (jax, mode) => {
    const x = arrayOf(jax, [64, 64, 32, 32], 3)
    const gamma = jax.numpy.ones([64])
    const beta = jax.numpy.zeros([64])
    let running = { mean: jax.numpy.zeros([64]), variance: jax.numpy.ones([64]) }
    const forward = maybeJit(jax, mode, (x: A, g: A, b: A, m: A, v: A): A[] => {
      const r = batchNorm(jax, x, g, b, { mean: m, variance: v })
      return [r.y, r.mean, r.variance]
    })
    const once = async (): Promise<A> => {
      const [y, m, v] = forward(x.ref, gamma.ref, beta.ref, running.mean, running.variance)
      running = { mean: m!, variance: v! }
      await jax.blockUntilReady([y!, m!, v!])
      return y!
    }
    return {
      check: async () => {
        const y = await once()
        const data = await y.data()
        // channel 0 of the output: mean 0 and variance 1 over its N·H·W values
        let s = 0
        let q = 0
        let k = 0
        for (let n = 0; n < 64; n++)
          for (let i = 0; i < 1024; i++) {
            const v = data[n * 64 * 1024 + i]!
            s += v
            q += v * v
            k++
          }
        const mean = s / k
        const variance = q / k - mean * mean
        return Math.abs(mean) < 1e-3 && Math.abs(variance - 1) < 1e-3 ? undefined : `channel 0 has mean ${mean} and variance ${variance} after normalising`
      },
      run: async () => (await once()).dispose(),
      dispose: () => {
        for (const a of [x, gamma, beta, running.mean, running.variance]) a.dispose()
      },
    }
  },
}

type Params = Record<string, A>

/** A training step's network: parameter shapes and the forward pass (NCHW in, logits out), BN running statistics threaded through. */
interface Net {
  readonly params: Record<string, readonly number[]>
  readonly stats: Record<string, readonly number[]>
  readonly input: readonly number[]
  readonly forward: (jax: JaxModule, p: Params, s: Params, x: A) => { logits: A; stats: Params }
}

const conv = (jax: JaxModule, x: A, w: A, stride: number, pad: number): A =>
  jax.lax.conv(
    x,
    w,
    [stride, stride],
    [
      [pad, pad],
      [pad, pad],
    ],
  )

/** conv → BN (train) → (relu): one unit of the nets below. */
const convBn = (jax: JaxModule, p: Params, s: Params, out: Params, name: string, x: A, stride: number, pad: number, relu: boolean): A => {
  const r = batchNorm(jax, conv(jax, x, p[`${name}.w`]!, stride, pad), p[`${name}.g`]!, p[`${name}.b`]!, { mean: s[`${name}.m`]!, variance: s[`${name}.v`]! })
  out[`${name}.m`] = r.mean
  out[`${name}.v`] = r.variance
  return relu ? jax.nn.relu(r.y) : r.y
}

const bnShapes = (name: string, c: number) => ({ [`${name}.g`]: [c], [`${name}.b`]: [c] })
const statShapes = (name: string, c: number) => ({ [`${name}.m`]: [c], [`${name}.v`]: [c] })

/** 2×2 average pooling of NCHW `x`. */
const avgPool2 = (x: A): A => {
  const [n, c, h, w] = x.shape as [number, number, number, number]
  return x.reshape([n, c, h / 2, 2, w / 2, 2]).mean([3, 5])
}

const dense = (jax: JaxModule, x: A, w: A, b: A): A => jax.numpy.matmul(x, w).add(b.reshape([1, b.shape[0]!]))

/** The small CNN of `bench/torch.ts`: conv32-BN-relu-pool, conv64-BN-relu-pool, global mean, dense 10 (28×28×1, batch 64). */
export const CNN: Net = {
  params: { 'c1.w': [32, 1, 3, 3], ...bnShapes('c1', 32), 'c2.w': [64, 32, 3, 3], ...bnShapes('c2', 64), 'fc.w': [64, 10], 'fc.b': [10] },
  stats: { ...statShapes('c1', 32), ...statShapes('c2', 64) },
  input: [64, 1, 28, 28],
  forward: (jax, p, s, x) => {
    const out: Params = {}
    const h1 = avgPool2(convBn(jax, p, s, out, 'c1', x, 1, 1, true))
    const h2 = avgPool2(convBn(jax, p, s, out, 'c2', h1, 1, 1, true))
    return { logits: dense(jax, h2.mean([2, 3]), p['fc.w']!, p['fc.b']!), stats: out }
  },
}

/** The CIFAR ResNet-20 of `bench/torch.ts` (width 16, BasicBlocks, 1×1 projection shortcuts; 32×32×3, batch 64). */
export const RESNET20: Net = (() => {
  const params: Record<string, number[]> = { 'stem.w': [16, 3, 3, 3], ...bnShapes('stem', 16) }
  const stats: Record<string, number[]> = { ...statShapes('stem', 16) }
  const blocks: Array<{ name: string; stride: number; projection: boolean }> = []
  let cin = 16
  for (const [k, c] of [16, 32, 64].entries())
    for (let i = 0; i < 3; i++) {
      const stride = i === 0 && k > 0 ? 2 : 1
      const name = `l${k}b${i}`
      const projection = stride !== 1 || cin !== c
      Object.assign(params, { [`${name}.1.w`]: [c, cin, 3, 3], ...bnShapes(`${name}.1`, c), [`${name}.2.w`]: [c, c, 3, 3], ...bnShapes(`${name}.2`, c) })
      Object.assign(stats, statShapes(`${name}.1`, c), statShapes(`${name}.2`, c))
      if (projection) {
        Object.assign(params, { [`${name}.s.w`]: [c, cin, 1, 1], ...bnShapes(`${name}.s`, c) })
        Object.assign(stats, statShapes(`${name}.s`, c))
      }
      blocks.push({ name, stride, projection })
      cin = c
    }
  Object.assign(params, { 'fc.w': [64, 10], 'fc.b': [10] })
  return {
    params,
    stats,
    input: [64, 3, 32, 32],
    forward: (jax, p, s, x) => {
      const out: Params = {}
      let h = convBn(jax, p, s, out, 'stem', x, 1, 1, true)
      for (const b of blocks) {
        const y = convBn(jax, p, s, out, `${b.name}.2`, convBn(jax, p, s, out, `${b.name}.1`, h.ref, b.stride, 1, true), 1, 1, false)
        const shortcut = b.projection ? convBn(jax, p, s, out, `${b.name}.s`, h, b.stride, 0, false) : h
        h = jax.nn.relu(y.add(shortcut))
      }
      return { logits: dense(jax, h.mean([2, 3]), p['fc.w']!, p['fc.b']!), stats: out }
    },
  }
})()

/** Cross-entropy of `logits` [N, 10] against integer `labels` [N] (mean over the batch). */
const crossEntropy = (jax: JaxModule, logits: A, labels: A): A =>
  jax.numpy
    .sum(jax.nn.logSoftmax(logits, -1).mul(jax.nn.oneHot(labels, 10)), 1)
    .mean()
    .mul(-1)

/** He-uniform initial values for a weight of `shape`; BN's γ at 1 and β at 0, biases at 0. */
const initial = (jax: JaxModule, name: string, shape: readonly number[], seed: number): A => {
  if (name.endsWith('.g')) return jax.numpy.ones([...shape])
  if (name.endsWith('.b')) return jax.numpy.zeros([...shape])
  const fanIn = shape.length === 4 ? shape[1]! * shape[2]! * shape[3]! : shape[0]!
  return arrayOf(jax, shape, seed, Math.sqrt(6 / fanIn))
}

/** One SGD-with-momentum (0.9, lr 0.01) step of `net` on a fixed batch of 64, as `torch.optim.SGD` steps. */
export const trainStepJob = (name: string, polyakJob: string, net: Net): PeerJob => ({
  name,
  polyakJob,
  setup: async (jax, mode) => {
    const names = Object.keys(net.params)
    let params: Params = Object.fromEntries(names.map((k, i) => [k, initial(jax, k, net.params[k]!, 11 + i)]))
    let momentum: Params = Object.fromEntries(names.map((k) => [k, jax.numpy.zeros([...net.params[k]!])]))
    let stats: Params = Object.fromEntries(Object.entries(net.stats).map(([k, s]) => [k, k.endsWith('.v') ? jax.numpy.ones([...s]) : jax.numpy.zeros([...s])]))
    const x = arrayOf(jax, net.input, 5)
    const labels = jax.numpy.array(
      Int32Array.from({ length: 64 }, (_, i) => i % 10),
      { dtype: jax.numpy.int32 },
    )
    const lossOf = (p: Params, s: Params, xb: A, y: A): [A, Params] => {
      const o = net.forward(jax, p, s, xb)
      return [crossEntropy(jax, o.logits, y), o.stats]
    }
    const step = maybeJit(jax, mode, (p: Params, m: Params, s: Params, xb: A, y: A): [Params, Params, Params, A] => {
      const keep: Params = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.ref]))
      const [[loss, nextStats], grads] = jax.valueAndGrad(lossOf, { hasAux: true })(p, s, xb, y) as unknown as [[A, Params], Params]
      const nextM: Params = {}
      const nextP: Params = {}
      for (const k of Object.keys(keep)) {
        nextM[k] = m[k]!.mul(0.9).add(grads[k]!)
        nextP[k] = keep[k]!.sub(nextM[k]!.ref.mul(0.01))
      }
      return [nextP, nextM, nextStats, loss]
    })
    const once = async (): Promise<number> => {
      const [p, m, s, loss] = step(params, momentum, stats, x.ref, labels.ref)
      params = p
      momentum = m
      stats = s
      return (await loss.data())[0]!
    }
    return {
      check: async (budgetMs) => {
        const losses: number[] = []
        const t0 = performance.now()
        for (let i = 0; i < 4; i++) {
          losses.push(await once())
          if (performance.now() - t0 > budgetMs) throw new TooSlow(`${i + 1} checked step(s) took ${((performance.now() - t0) / 1000).toFixed(1)} s`)
        }
        if (!losses.every(Number.isFinite)) return `non-finite loss: ${losses.join(', ')}`
        return losses[losses.length - 1]! < losses[0]!
          ? undefined
          : `the loss does not fall over 4 steps on one batch: ${losses.map((l) => l.toFixed(3)).join(', ')}`
      },
      run: async () => {
        await once()
      },
      dispose: () => {
        for (const a of [...Object.values(params), ...Object.values(momentum), ...Object.values(stats), x, labels]) a.dispose()
      },
    }
  },
})
