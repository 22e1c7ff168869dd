/**
 * polyak's benchmark suite: each job on every available backend, and in the same run the
 * baselines — a plain typed-array loop, a memory-bandwidth probe (copy, triad) and PyTorch on the
 * CPU through Debian's `/usr/bin/python3` when torch is importable there. Warm-up, repeats, medians
 * with min–max; every polyak figure as a ratio to PyTorch and to the bandwidth floor.
 *
 * Figures are wall-clock times of whole jobs including tfjs dispatch; on webgpu each timed run
 * ends with a one-element readback so the GPU work is included.
 *
 * @module bench
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import * as tf from '@tensorflow/tfjs-core'
import { type BackendDescriptor, backends, forceGpuKernels, unsafeUseBackend } from '../backends/index.js'
import type { Ops } from '../src/core/ops.js'
import type { Leaf } from '../src/core/tree.js'
import { disposeTree } from '../src/core/memory.js'
import { InvalidArgumentError } from '../src/core/errors.js'
import { tfOps } from '../src/core/tfOps.js'
import { emanPolicy, unsafeTeacherUpdate, weightsOnly } from '../src/ema/teacher.js'
import { AXPBY_MANY } from '../src/kernels/axpbyMany.js'
import { useFusedKernels } from '../src/kernels/registry.js'
import { type WebGpuInternals, storageOf, webgpuInternals } from '../src/kernels/webgpuDispatch.js'
import { registerGradients } from '../src/nn/gradients.js'
import { type Model, convNet } from '../src/nn/model.js'
import { resnet } from '../src/nn/resnet.js'
import { unsafeBatchNorm } from '../src/norm/batchNorm.js'
import { unsafeGroupNorm } from '../src/norm/groupNorm.js'
import { unsafeMomentumBatchNorm } from '../src/norm/momentumBatchNorm.js'
import { unsafeWeightAlign } from '../src/norm/weightAlign.js'
import type { ApplyContext, Normalizer } from '../src/norm/normalizer.js'
import { sgd } from '../src/optim/optimizers.js'
import { disposeAll, valueAndGrads } from '../src/train/common.js'
import { crossEntropy } from '../src/train/losses.js'
import { TORCH_SCRIPT } from './torch.js'

/** A timing: median and range in milliseconds over `samples` runs. */
export interface Timing {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly samples: number
}

/** One row of the report. */
export interface BenchRow {
  readonly job: string
  readonly backend: string
  readonly timing?: Timing
  /** PyTorch's time of the same job (CPU with 1 thread, or CUDA), when measured: the medians of the pairs. */
  readonly torch?: Timing
  /**
   * Bandwidth floor of the job in ms, for memory-bound jobs: bytes ÷ the JavaScript triad bandwidth
   * on cpu and wasm, bytes ÷ the device's copy bandwidth on webgpu.
   */
  readonly floor?: number
  /** PyTorch's time ÷ its own floor (bytes ÷ triad bandwidth on the CPU, ÷ the CUDA device's copy bandwidth). */
  readonly torchVsFloor?: number
  /** polyak ÷ PyTorch: the median over the interleaved pairs of each pair's ratio of medians. */
  readonly vsTorch?: number
  /** The smallest and largest pair ratio. */
  readonly vsTorchRange?: readonly [number, number]
  readonly vsFloor?: number
  readonly note?: string
}

/** The whole report. */
export interface BenchReport {
  readonly machine: { readonly cpus: number; readonly node: string }
  /** GB/s: JavaScript copy and triad; the WebGPU device's and the PyTorch device's copy (read + write), when measured. */
  readonly bandwidth: { readonly copyGBs: number; readonly triadGBs: number; readonly webgpuCopyGBs?: number; readonly torchCopyGBs?: number }
  readonly jsLoop: { readonly emaResnet18: Timing }
  /** PyTorch's side: its device, and `pairs` interleaved polyak/PyTorch measurements per row. */
  readonly torch: {
    readonly available: boolean
    readonly note?: string
    readonly version?: string
    readonly device?: string
    readonly deviceName?: string
    readonly pairs?: number
  }
  readonly rows: readonly BenchRow[]
  readonly seconds: number
}

/** ResNet-18's parameter tensors (PyTorch torchvision layout, 62 tensors, 11 689 512 parameters) as shapes. */
export const resnet18Shapes = (): number[][] => {
  const shapes: number[][] = [[64, 3, 7, 7], [64], [64]]
  const stage = (cin: number, cout: number, down: boolean) => {
    shapes.push([cout, cin, 3, 3], [cout], [cout], [cout, cout, 3, 3], [cout], [cout])
    if (down) shapes.push([cout, cin, 1, 1], [cout], [cout])
    shapes.push([cout, cout, 3, 3], [cout], [cout], [cout, cout, 3, 3], [cout], [cout])
  }
  stage(64, 64, false)
  stage(64, 128, true)
  stage(128, 256, true)
  stage(256, 512, true)
  shapes.push([1000, 512], [1000])
  return shapes
}

/** ResNet-50's parameter tensors (torchvision layout, 161 tensors, 25 557 032 parameters) as shapes. */
export const resnet50Shapes = (): number[][] => {
  const shapes: number[][] = [[64, 3, 7, 7], [64], [64]]
  const block = (cin: number, mid: number, cout: number, down: boolean) => {
    shapes.push([mid, cin, 1, 1], [mid], [mid], [mid, mid, 3, 3], [mid], [mid], [cout, mid, 1, 1], [cout], [cout])
    if (down) shapes.push([cout, cin, 1, 1], [cout], [cout])
  }
  const layer = (cin: number, mid: number, cout: number, n: number) => {
    block(cin, mid, cout, true)
    for (let i = 1; i < n; i++) block(cout, mid, cout, false)
  }
  layer(64, 64, 256, 3)
  layer(256, 128, 512, 4)
  layer(512, 256, 1024, 6)
  layer(1024, 512, 2048, 3)
  shapes.push([1000, 2048], [1000])
  return shapes
}

const count = (shapes: number[][]): number => shapes.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0)

/** The median (the upper one of an even count), min and max of `xs`. */
export const timingOf = (xs: readonly number[]): Timing => {
  const s = [...xs].sort((a, b) => a - b)
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s[s.length - 1]!, samples: s.length }
}

/** Times `run` (sync or async) with warm-up; stops repeating once `budgetMs` is spent. */
export const time = async (run: () => unknown, options: { warmup?: number; repeats?: number; budgetMs?: number } = {}): Promise<Timing> => {
  const warmup = options.warmup ?? 2
  const repeats = options.repeats ?? 7
  const budget = options.budgetMs ?? 8000
  for (let i = 0; i < warmup; i++) await run()
  const xs: number[] = []
  const t0 = performance.now()
  for (let i = 0; i < repeats; i++) {
    const s = performance.now()
    await run()
    xs.push(performance.now() - s)
    if (performance.now() - t0 > budget && xs.length >= 3) break
  }
  return timingOf(xs)
}

/** Interleaved polyak/PyTorch pairs per row with a PyTorch twin, and timed runs per side in each pair. */
const PAIRS = 5
const PAIR_REPEATS = 3

const fill = (n: number, seed: number): Float32Array => {
  const a = new Float32Array(n)
  let s = seed
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0
    a[i] = (s / 4294967296 - 0.5) * 0.1
  }
  return a
}

/** Memory bandwidth of this machine seen from JavaScript: copy (`set`) and triad (`a = b + s·c`). */
export const bandwidth = async (): Promise<{ copyGBs: number; triadGBs: number }> => {
  const n = 11_689_512
  const a = new Float32Array(n)
  const b = fill(n, 1)
  const c = fill(n, 2)
  const copy = await time(() => a.set(b), { repeats: 9 })
  const triad = await time(
    () => {
      for (let i = 0; i < n; i++) a[i] = b[i]! + 0.5 * c[i]!
    },
    { repeats: 9 },
  )
  return { copyGBs: (8 * n) / (copy.median * 1e6), triadGBs: (12 * n) / (triad.median * 1e6) }
}

/** A plain typed-array EMA over ResNet-18's tensors, in place (the JavaScript baseline). */
export const jsLoopEma = async (): Promise<Timing> => {
  const shapes = resnet18Shapes()
  const teacher = shapes.map((s, i) =>
    fill(
      s.reduce((a, b) => a * b, 1),
      i,
    ),
  )
  const student = shapes.map((s, i) =>
    fill(
      s.reduce((a, b) => a * b, 1),
      i + 100,
    ),
  )
  const d = Math.fround(0.999)
  const e = Math.fround(1 - 0.999)
  return time(() => {
    for (let k = 0; k < teacher.length; k++) {
      const t = teacher[k]!
      const s = student[k]!
      for (let i = 0; i < t.length; i++) t[i] = d * t[i]! + e * s[i]!
    }
  })
}

/** A running PyTorch bench server (Debian's interpreter), or why there is none. */
export type TorchServer =
  | { readonly available: false; readonly note: string }
  | {
      readonly available: true
      readonly version: string
      /** `cpu` or `cuda`, and what it is (`CPU, 1 thread` or the GPU's name). */
      readonly device: string
      readonly deviceName: string
      /** Bytes the `copy` job reads and writes. */
      readonly copyBytes: number
      readonly jobs: readonly string[]
      /** Times `job` in PyTorch: `warmup` untimed runs, then `repeats` timed ones (ms each). */
      time(job: string, warmup: number, repeats: number): Promise<number[]>
      close(): void
    }

/** Where PyTorch runs: the device (`cpu`, one thread, or `cuda`) and the Python that has torch. */
export interface TorchOptions {
  readonly device?: 'cpu' | 'cuda'
  /** Default `/usr/bin/python3`, where Debian's `python3-torch` is importable. */
  readonly python?: string
}

/** Starts the PyTorch side of the bench (`bench/torch`), kept open so that its runs can alternate with polyak's. */
export const startTorch = async (options: TorchOptions = {}): Promise<TorchServer> => {
  const python = options.python ?? '/usr/bin/python3'
  if (!existsSync(python)) return { available: false, note: `${python} not found` }
  const child = spawn(python, ['-c', TORCH_SCRIPT, options.device ?? 'cpu'], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const next = async (): Promise<Record<string, unknown>> => {
    const r = await lines.next()
    if (r.done === true) throw new Error(stderr.split('\n').filter(Boolean).pop() ?? 'the PyTorch process ended')
    return JSON.parse(r.value) as Record<string, unknown>
  }
  try {
    const hello = (await next()) as { version: string; device: string; deviceName: string; copyBytes: number; jobs: string[]; error?: string }
    if (typeof hello.error === 'string') throw new Error(hello.error)
    let queue = Promise.resolve<unknown>(undefined)
    return {
      available: true,
      version: hello.version,
      device: hello.device,
      deviceName: hello.deviceName,
      copyBytes: hello.copyBytes,
      jobs: hello.jobs,
      time: (job, warmup, repeats) => {
        const answer = queue.then(async () => {
          child.stdin.write(JSON.stringify({ job, warmup, repeats }) + '\n')
          const r = await next()
          if (typeof r.error === 'string') throw new Error(`PyTorch job ${job}: ${r.error}`)
          return r.ms as number[]
        })
        queue = answer.catch(() => undefined)
        return answer
      },
      close: () => {
        child.stdin.end()
        child.kill()
      },
    }
  } catch (e) {
    child.kill()
    const msg = (e as Error).message
    return {
      available: false,
      note: /No module named 'torch'/.test(msg)
        ? 'torch is not importable from /usr/bin/python3 (apt-get install python3-torch)'
        : `PyTorch baseline failed (${python}): ${msg}`,
    }
  }
}

/** A benchmark job on one backend: `setup` builds inputs, the returned function runs one iteration. */
/** One benchmark job: what it runs on a backend, and how it compares. */
export interface Job {
  readonly name: string
  /** Bytes the job must move at least (for the floor), if memory-bound. */
  readonly bytes?: number
  /** Key of the matching PyTorch timing. */
  readonly torch?: string | undefined
  readonly skip?: (backend: string) => string | undefined
  readonly setup: (ops: Ops<Leaf>) => { run: () => Promise<void>; dispose: () => void }
}

/**
 * The device's copy bandwidth in GB/s (bytes read plus bytes written per second): a 64 MiB buffer
 * copied into another `copies` times in one submission, timed to the queue's completion, median of
 * `repeats`. What a memory-bound kernel on this device can hope for: the bench's floor on webgpu.
 */
const deviceCopyBandwidth = async (b: WebGpuInternals, options: { copies?: number; repeats?: number } = {}): Promise<number> => {
  const n = 16 * 1024 * 1024
  const copies = options.copies ?? 4
  const src = tf.fill([n], 1)
  const dst = tf.fill([n], 0)
  try {
    const from = storageOf(b, src)
    const to = storageOf(b, dst)
    const once = async (): Promise<number> => {
      b.ensureCommandEncoderReady()
      b.endComputePassEncoder()
      const t0 = performance.now()
      for (let i = 0; i < copies; i++) b.commandEncoder!.copyBufferToBuffer(from, 0, to, 0, 4 * n)
      b.submitQueue()
      await b.device.queue.onSubmittedWorkDone()
      return performance.now() - t0
    }
    await once()
    const ms: number[] = []
    for (let i = 0; i < (options.repeats ?? 5); i++) ms.push(await once())
    ms.sort((x, y) => x - y)
    return (2 * 4 * n * copies) / (ms[ms.length >> 1]! * 1e6)
  } finally {
    tf.dispose([src, dst])
  }
}

/** Ends a timed run: on webgpu, a one-element readback makes the GPU work part of the time. */
const settle = async (ops: Ops<Leaf>, t: Leaf): Promise<void> => {
  // cpu and wasm kernels have finished when they return; and tfjs-wasm's Slice copies its whole
  // input out of the heap first (50 ms for a [64,32,32,64] tensor), which would swamp the job
  if (tf.getBackend() === 'cpu' || tf.getBackend() === 'wasm') return
  const one = ops.slice(
    t,
    t.shape.map(() => 0),
    t.shape.map(() => 1),
  )
  await ops.read(one)
  ops.dispose(one)
}

const treeOf = (ops: Ops<Leaf>, shapes: number[][], seed: number): Record<string, Leaf> =>
  Object.fromEntries(
    shapes.map((s, i) => [
      `p${i}`,
      ops.tensor(
        fill(
          s.reduce((a, b) => a * b, 1),
          seed + i,
        ),
        s,
      ),
    ]),
  )

/** Which fused kernels a teacher job runs with: all, none (composed tfjs ops), or all but the multi-tensor one (one dispatch per tensor). */
type TeacherKernels = 'fused' | 'composed' | 'perTensor'

const teacherJob = (name: string, shapes: number[][], withStats: boolean, kernels: TeacherKernels): Job => ({
  name,
  skip: (backend) => (kernels === 'perTensor' && backend !== 'webgpu' ? 'only webgpu has the multi-tensor kernel' : undefined),
  bytes: 12 * count(shapes),
  torch: withStats ? undefined : shapes.length > 100 ? 'ema_resnet50' : 'ema_resnet18',
  setup: (ops) => {
    const bnStats = withStats
      ? Object.fromEntries(
          shapes
            .map((s, i) => [s, i] as const)
            .filter(([s]) => s.length === 1 && s[0]! <= 2048)
            .map(([s, i]) => [
              `bn${i}`,
              { mean: ops.tensor(fill(s[0]!, i), s), variance: ops.tensor(fill(s[0]!, i + 7).map(Math.abs), s), count: ops.scalar(3, 'int32') },
            ]),
        )
      : {}
    const student = { params: treeOf(ops, shapes, 0), stats: bnStats }
    const t = {
      params: treeOf(ops, shapes, 1000),
      stats: Object.fromEntries(
        Object.entries(bnStats).map(([k, v]) => [k, { mean: ops.clone(v.mean), variance: ops.clone(v.variance), count: ops.clone(v.count) }]),
      ),
    }
    const update = unsafeTeacherUpdate(ops, { decay: 0.999, policy: withStats ? emanPolicy : weightsOnly })
    return {
      run: async () => {
        if (kernels === 'composed') useFusedKernels(false)
        if (kernels === 'perTensor') useFusedKernels(false, [AXPBY_MANY])
        const [, next] = update(student)(t)
        useFusedKernels(true)
        await settle(ops, next.params.p0!)
        disposeTree(ops, next)
      },
      dispose: () => disposeTree(ops, [student, t]),
    }
  },
})

/** The EMA update with buffer donation, as a driver runs it: each run's teacher replaces (and donates) the last. */
const donatedJob = (name: string, shapes: number[][]): Job => ({
  name,
  bytes: 12 * count(shapes),
  torch: 'ema_resnet18',
  setup: (ops) => {
    const student = { params: treeOf(ops, shapes, 0), stats: {} }
    let t: { params: Record<string, Leaf>; stats: Record<string, never> } = { params: treeOf(ops, shapes, 1000), stats: {} }
    const update = unsafeTeacherUpdate(ops, { decay: 0.999, policy: weightsOnly, donate: true })
    return {
      run: async () => {
        const [, next] = update(student)(t)
        disposeTree(ops, t)
        t = next as typeof t
        await settle(ops, t.params.p0!)
      },
      dispose: () => disposeTree(ops, [student, t]),
    }
  },
})

const activation = (ops: Ops<Leaf>, shape: number[]) =>
  ops.tensor(
    fill(
      shape.reduce((a, b) => a * b, 1),
      5,
    ),
    shape,
  )

/** A train-mode forward of an activation normalizer on a [64,32,32,64] batch, with polyak's fused kernels or the stock tfjs ops. */
const normalizerJob = <P, S>(name: string, make: (ops: Ops<Leaf>) => Normalizer<Leaf, P, S>, context: ApplyContext, torch?: string, fused = true): Job => ({
  name,
  torch,
  setup: (ops) => {
    const norm = make(ops)
    const s = norm.init(64)
    const x = activation(ops, [64, 32, 32, 64])
    return {
      run: async () => {
        useFusedKernels(fused)
        const [y, next] = norm.apply(x, 'train', context)(s)
        useFusedKernels(true)
        await settle(ops, y)
        disposeTree(ops, [y, next])
      },
      dispose: () => disposeTree(ops, [s, x]),
    }
  },
})

/** WeightAlign's transform of ResNet-18's 20 conv weights (OIHW), with polyak's fused kernels or the composed tfjs ops. */
const weightAlignJob = (name: string, fused: boolean): Job => ({
  name,
  torch: 'weightalign_resnet18',
  bytes: 8 * count(resnet18Shapes().filter((s) => s.length === 4)),
  setup: (ops) => {
    const wa = unsafeWeightAlign(ops, { layout: 'OIHW' })
    const convs = resnet18Shapes()
      .filter((s) => s.length === 4)
      .map((s, i) => ({
        weight: ops.tensor(
          fill(
            s.reduce((a, b) => a * b, 1),
            i,
          ),
          s,
        ),
        gamma: ops.ones([s[0]!]),
      }))
    return {
      run: async () => {
        useFusedKernels(fused)
        const outs = convs.map((p) => wa.transform(p))
        useFusedKernels(true)
        await settle(ops, outs[outs.length - 1]!)
        outs.forEach((o) => ops.dispose(o))
      },
      dispose: () => disposeTree(ops, convs),
    }
  },
})

/**
 * One SGD-with-momentum training step of a classifier on a fixed batch of 64: forward in train
 * mode, cross-entropy, gradients, the update (PyTorch: the same network, `torch.optim.SGD`).
 */
const trainStepJob = (name: string, torch: string, build: () => Model): Job => ({
  name,
  torch,
  skip: (b) => (b === 'cpu' ? 'cpu backend: several seconds per step (tfjs-cpu conv), measured once in the pipelines issue' : undefined),
  setup: () => {
    registerGradients()
    const model = build()
    const opt = sgd({ lr: 0.01, momentum: 0.9 })
    let state = model.init(0)
    let optState = opt.init(state.params)
    const x = tf.tensor4d(fill(64 * model.inputShape.reduce((a, b) => a * b, 1), 3), [64, ...model.inputShape])
    const y = tf.tensor1d(
      Array.from({ length: 64 }, (_, i) => i % 10),
      'int32',
    )
    return {
      run: async () => {
        const out = tfOps.tidy(() => {
          const g = valueAndGrads(state.params, (p) => {
            const o = model.forward(p, state.stats, x, 'train', { heads: ['classifier'] })
            return { loss: crossEntropy(o.logits!, y), stats: o.stats }
          })
          const [params, os] = opt.update(g.grads, state.params, optState, 0)
          return { params, os, stats: g.stats, loss: g.loss }
        })
        await out.loss.data()
        disposeAll([state, optState, out.loss])
        state = { params: out.params, stats: out.stats }
        optState = out.os
      },
      dispose: () => disposeAll([state, optState, x, y]),
    }
  },
})

const JOBS: readonly Job[] = [
  teacherJob('EMA update, ResNet-18 (11.7 M params, 62 tensors), axpby kernels where registered (cpu, wasm, webgpu)', resnet18Shapes(), false, 'fused'),
  teacherJob('EMA update, ResNet-18, one axpby dispatch per tensor (multi-tensor kernel off; webgpu)', resnet18Shapes(), false, 'perTensor'),
  teacherJob('EMA update, ResNet-18, composed mul+mul+add (fused kernels off)', resnet18Shapes(), false, 'composed'),
  donatedJob('EMA update, ResNet-18, donated teacher (in place where supported: cpu, wasm, webgpu)', resnet18Shapes()),
  teacherJob('EMAN teacher update, ResNet-18 incl. BN stats', resnet18Shapes(), true, 'fused'),
  teacherJob('EMA update, ResNet-50 (25.6 M params)', resnet50Shapes(), false, 'fused'),
  normalizerJob('BN train forward [64,32,32,64]', (ops) => unsafeBatchNorm(ops), {}, 'bn_forward'),
  normalizerJob('BN train forward, composed tfjs ops (fused kernels off)', (ops) => unsafeBatchNorm(ops), {}, 'bn_forward', false),
  normalizerJob('GroupNorm forward [64,32,32,64], 8 groups', (ops) => unsafeGroupNorm(ops, { groups: 8 }), {}),
  normalizerJob('Momentum BN, two views [2×32,32,32,64]', (ops) => unsafeMomentumBatchNorm(ops, { totalSteps: 100 }), { step: 10, views: 2 }),
  weightAlignJob('WeightAlign over ResNet-18 convs', true),
  weightAlignJob('WeightAlign over ResNet-18 convs, composed (fused kernels off)', false),
  trainStepJob('small CNN train step, batch 64 (conv32-BN-conv64-BN-pool-dense, 28×28)', 'cnn_step', () =>
    convNet({ inputShape: [28, 28, 1], widths: [32, 64], norm: 'batchNorm', weightNorm: 'none', classes: 10 }),
  ),
  trainStepJob('CIFAR ResNet-20 train step, batch 64 (width 16, BN, 32×32×3)', 'resnet20_step', () =>
    resnet({ inputShape: [32, 32, 3], depth: 20, width: 16, norm: 'batchNorm', classes: 10 }),
  ),
]

/**
 * Runs every job on every available backend (or `only`), plus the baselines, and reports.
 * `onProgress` receives a line per finished measurement.
 */
/** The jobs whose name contains one of `wanted` (case-insensitive), or all; an error lists the jobs when none matches. */
export const selectJobs = (wanted?: readonly string[], among: readonly Job[] = JOBS): readonly Job[] => {
  const w = wanted?.map((j) => j.toLowerCase())
  const jobs = w === undefined ? among : among.filter((j) => w.some((x) => j.name.toLowerCase().includes(x)))
  if (jobs.length === 0)
    throw new InvalidArgumentError('--job', `no job's name contains ${w!.map((x) => `'${x}'`).join(' or ')}; the jobs: ${among.map((j) => j.name).join('; ')}`)
  return jobs
}

export const runBench = async (
  options: { backends?: readonly string[]; jobs?: readonly string[]; torch?: TorchOptions; onProgress?: (line: string) => void } = {},
): Promise<BenchReport> => {
  const jobs = selectJobs(options.jobs)
  const t0 = Date.now()
  const say = options.onProgress ?? (() => undefined)
  const bw = await bandwidth()
  say(`bandwidth: copy ${bw.copyGBs.toFixed(1)} GB/s, triad ${bw.triadGBs.toFixed(1)} GB/s`)
  const js = await jsLoopEma()
  say(`plain typed-array EMA loop, ResNet-18: ${js.median.toFixed(1)} ms`)
  const torch = await startTorch(options.torch)
  say(torch.available ? `PyTorch ${torch.version} (${torch.deviceName}): ${torch.jobs.join(', ')}` : `PyTorch: skipped (${torch.note})`)
  let torchCopyGBs: number | undefined
  if (torch.available) {
    torchCopyGBs = torch.copyBytes / (timingOf(await torch.time('copy', 2, 7)).median * 1e6)
    say(`PyTorch ${torch.device} copy bandwidth: ${torchCopyGBs.toFixed(1)} GB/s`)
  }
  // PyTorch's floor: the CUDA device's copy bandwidth, or on the CPU the same triad as polyak's
  const torchGBs = torch.available && torch.device !== 'cpu' ? torchCopyGBs! : bw.triadGBs
  let webgpuCopyGBs: number | undefined
  const rows: BenchRow[] = []
  const chosen: BackendDescriptor[] = []
  for (const b of backends) {
    if (b.name === 'reference') continue
    if (options.backends !== undefined && !options.backends.includes(b.name)) continue
    const a = await b.probe()
    if (!a.available) {
      rows.push({ job: '(all)', backend: b.name, note: `unavailable: ${a.reason}` })
      continue
    }
    chosen.push(b)
  }
  try {
    for (const b of chosen) {
      const { ops } = await unsafeUseBackend(b.name)
      if (b.name === 'webgpu') {
        await forceGpuKernels()
        const gpu = webgpuInternals(tf.backend())
        if (gpu !== undefined) {
          webgpuCopyGBs = await deviceCopyBandwidth(gpu)
          say(`webgpu device copy bandwidth: ${webgpuCopyGBs.toFixed(1)} GB/s`)
        }
      }
      const floorGBs = b.name === 'webgpu' && webgpuCopyGBs !== undefined ? webgpuCopyGBs : bw.triadGBs
      for (const job of jobs) {
        const skip = job.skip?.(b.name)
        if (skip !== undefined) {
          rows.push({ job: job.name, backend: b.name, note: `skipped: ${skip}` })
          continue
        }
        const before = tf.memory().numTensors
        const { run, dispose } = job.setup(ops)
        const against = job.torch !== undefined && torch.available ? job.torch : undefined
        let timing: Timing
        let paired: { torch: Timing; ratio: Timing } | undefined
        try {
          if (against === undefined || !torch.available) timing = await time(run, { warmup: 2, repeats: 7, budgetMs: 6000 })
          else {
            // interleaved pairs: polyak, then PyTorch, PAIRS times; the ratio is the median of the pairs' ratios,
            // so that a burst of other work on the machine moves one pair, not the verdict
            const ours: number[] = []
            const theirs: number[] = []
            const ratios: number[] = []
            for (let p = 0; p < PAIRS; p++) {
              const a = await time(run, { warmup: p === 0 ? 2 : 1, repeats: PAIR_REPEATS })
              const b = timingOf(await torch.time(against, p === 0 ? 2 : 1, PAIR_REPEATS))
              ours.push(a.median)
              theirs.push(b.median)
              ratios.push(a.median / b.median)
            }
            timing = timingOf(ours)
            paired = { torch: timingOf(theirs), ratio: timingOf(ratios) }
          }
        } finally {
          dispose()
        }
        const leaked = tf.memory().numTensors - before
        const floor = job.bytes === undefined ? undefined : job.bytes / (floorGBs * 1e6)
        const torchFloor = job.bytes === undefined ? undefined : job.bytes / (torchGBs * 1e6)
        rows.push({
          job: job.name,
          backend: b.name,
          timing,
          ...(paired === undefined ? {} : { torch: paired.torch, vsTorch: paired.ratio.median, vsTorchRange: [paired.ratio.min, paired.ratio.max] as const }),
          ...(paired === undefined || torchFloor === undefined ? {} : { torchVsFloor: paired.torch.median / torchFloor }),
          ...(floor === undefined ? {} : { floor, vsFloor: timing.median / floor }),
          ...(leaked !== 0 ? { note: `${leaked} tensors leaked` } : {}),
        })
        say(`${b.name.padEnd(7)} ${job.name}: ${timing.median.toFixed(1)} ms${paired === undefined ? '' : `, ${paired.ratio.median.toFixed(2)}× PyTorch`}`)
      }
    }
  } finally {
    if (torch.available) torch.close()
  }
  const os = await import('node:os')
  return {
    machine: { cpus: os.cpus().length, node: process.version },
    bandwidth: { ...bw, ...(webgpuCopyGBs === undefined ? {} : { webgpuCopyGBs }), ...(torchCopyGBs === undefined ? {} : { torchCopyGBs }) },
    jsLoop: { emaResnet18: js },
    torch: torch.available
      ? { available: true, version: torch.version, device: torch.device, deviceName: torch.deviceName, pairs: PAIRS }
      : { available: false, note: torch.note },
    rows,
    seconds: (Date.now() - t0) / 1000,
  }
}

const ms = (t: Timing | undefined): string => (t === undefined ? '' : `${t.median.toFixed(1)} (${t.min.toFixed(1)}–${t.max.toFixed(1)})`)
const ratio = (r: number | undefined): string => (r === undefined ? '' : `${r.toFixed(2)}×`)

/** The report as a markdown table. */
export const benchMarkdown = (r: BenchReport): string => {
  const gbs = (v: number | undefined, what: string): string[] => (v === undefined ? [] : [`${what} ${v.toFixed(1)} GB/s`])
  const bandwidths = [
    ...gbs(r.bandwidth.copyGBs, 'JS copy'),
    ...gbs(r.bandwidth.triadGBs, 'JS triad'),
    ...gbs(r.bandwidth.webgpuCopyGBs, 'WebGPU device copy'),
    ...gbs(r.bandwidth.torchCopyGBs, `PyTorch ${r.torch.device ?? ''} copy`),
  ]
  const t = r.torch
  return [
    `Machine: ${r.machine.cpus} CPUs, Node ${r.machine.node}. Bandwidth: ${bandwidths.join(', ')}. Floors: bytes ÷ JS triad on cpu and wasm, ÷ the device copy on webgpu and CUDA.`,
    `Plain typed-array EMA loop over ResNet-18 (in place): ${ms(r.jsLoop.emaResnet18)} ms. PyTorch: ${t.available ? `${t.version} on ${t.deviceName ?? 'CPU, 1 thread'}, ${t.pairs} interleaved pairs per row` : `not measured (${t.note})`}.`,
    '',
    '| job | backend | polyak ms, median (min–max) | PyTorch ms | × PyTorch, median of pairs (min–max) | floor ms | × floor | PyTorch × its floor | note |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.rows.map(
      (x) =>
        `| ${x.job} | ${x.backend} | ${ms(x.timing)} | ${ms(x.torch)} | ${ratio(x.vsTorch)}${x.vsTorchRange === undefined ? '' : ` (${x.vsTorchRange[0].toFixed(2)}–${x.vsTorchRange[1].toFixed(2)})`} | ${x.floor === undefined ? '' : x.floor.toFixed(1)} | ${ratio(x.vsFloor)} | ${ratio(x.torchVsFloor)} | ${x.note ?? ''} |`,
    ),
    '',
    `Total ${r.seconds.toFixed(0)} s.`,
  ].join('\n')
}
