/**
 * SGD, LARS and Adam against their formulas, computed by hand in float64, over three steps with
 * momentum, weight decay (skipped on BN/bias leaves), Nesterov and a learning-rate schedule.
 */
import * as tf from '@tensorflow/tfjs-core'
import { expect } from 'vitest'
import { type Optimizer, adam, lars, sgd } from '../../src/optim/optimizers.js'
import { describeEachBackend, itOn } from '../support/backends.js'

describeEachBackend(
  'sgd',
  (b) => {
    const it = itOn(b)
    for (const nesterov of [false, true]) {
      it(`follows g ← ∇ + wd·θ, v ← μ·v + g, θ ← θ − lr·${nesterov ? '(g + μ·v)' : 'v'} (wd skipped on bias)`, async () => {
        const [mu, wd] = [0.9, 0.01]
        const lr = (k: number) => 0.1 / (k + 1)
        const opt = sgd({ lr, momentum: mu, weightDecay: wd, nesterov })
        const theta0 = { conv: { weight: [1, -2, 3], bias: [0.5, -0.5, 0.25] } }
        const grads = [
          [0.3, -0.1, 0.2],
          [-0.4, 0.5, 0.1],
          [0.05, 0.05, -0.3],
        ]
        let params = { conv: { weight: tf.tensor1d(theta0.conv.weight), bias: tf.tensor1d(theta0.conv.bias) } }
        let state = opt.init(params)
        // the same three steps in float64
        const want = { weight: [...theta0.conv.weight], bias: [...theta0.conv.bias] }
        const vel = { weight: [0, 0, 0], bias: [0, 0, 0] }
        for (let k = 0; k < 3; k++) {
          const g = { conv: { weight: tf.tensor1d(grads[k]!), bias: tf.tensor1d(grads[k]!.map((v) => -v)) } }
          const [p, s] = opt.update(g, params, state, k)
          tf.dispose([params, state, g] as never)
          ;[params, state] = [p as typeof params, s]
          for (const leaf of ['weight', 'bias'] as const) {
            for (let i = 0; i < 3; i++) {
              const grad = (leaf === 'bias' ? -1 : 1) * grads[k]![i]! + (leaf === 'weight' ? wd * want[leaf][i]! : 0)
              vel[leaf][i] = mu * vel[leaf][i]! + grad
              want[leaf][i]! -= lr(k) * (nesterov ? grad + mu * vel[leaf][i]! : vel[leaf][i]!)
            }
          }
        }
        for (const leaf of ['weight', 'bias'] as const) {
          const got = Array.from(await params.conv[leaf].data())
          got.forEach((v, i) => expect(Math.abs(v - want[leaf][i]!), `${leaf}[${i}]: ${v} vs ${want[leaf][i]}`).toBeLessThan(1e-6))
        }
        tf.dispose([params, state] as never)
      })
    }
  },
  ['cpu', 'wasm', 'webgpu'],
)

type Leaf3 = { weight: number[]; bias: number[] }
const GRADS = [
  [0.3, -0.1, 0.2],
  [-0.4, 0.5, 0.1],
  [0.05, 0.05, -0.3],
]
const THETA0: Leaf3 = { weight: [1, -2, 3], bias: [0.5, -0.5, 0.25] }

/** Runs `opt` three steps on `THETA0` with `GRADS` (negated on the bias) and returns the final leaves. */
const runThree = async (opt: Optimizer): Promise<Leaf3> => {
  let params = { conv: { weight: tf.tensor1d(THETA0.weight), bias: tf.tensor1d(THETA0.bias) } }
  let state = opt.init(params)
  for (let k = 0; k < 3; k++) {
    const g = { conv: { weight: tf.tensor1d(GRADS[k]!), bias: tf.tensor1d(GRADS[k]!.map((v) => -v)) } }
    const [p, s] = opt.update(g, params, state, k)
    tf.dispose([params, state, g] as never)
    ;[params, state] = [p as typeof params, s]
  }
  const out = { weight: Array.from(await params.conv.weight.data()), bias: Array.from(await params.conv.bias.data()) }
  tf.dispose([params, state] as never)
  return out
}

const expectClose = (got: Leaf3, want: Leaf3, tol: number) =>
  (['weight', 'bias'] as const).forEach((leaf) =>
    got[leaf].forEach((v, i) => expect(Math.abs(v - want[leaf][i]!), `${leaf}[${i}]: ${v} vs ${want[leaf][i]}`).toBeLessThan(tol)),
  )

const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0))

describeEachBackend(
  'lars and adam',
  (b) => {
    const it = itOn(b)
    it('lars: d ← (∇ + wd·θ)·η‖θ‖/(‖∇‖ + wd‖θ‖) (bias: ∇), v ← μ·v + d, θ ← θ − lr·v', async () => {
      const [mu, wd, eta, lr] = [0.9, 0.1, 0.02, 0.5]
      const got = await runThree(lars({ lr, momentum: mu, weightDecay: wd, trust: eta }))
      const want: Leaf3 = { weight: [...THETA0.weight], bias: [...THETA0.bias] }
      const vel: Leaf3 = { weight: [0, 0, 0], bias: [0, 0, 0] }
      for (let k = 0; k < 3; k++) {
        for (const leaf of ['weight', 'bias'] as const) {
          const g = GRADS[k]!.map((v) => (leaf === 'bias' ? -v : v))
          const theta = want[leaf]
          const ratio = leaf === 'bias' ? 1 : (eta * norm(theta)) / (norm(g) + wd * norm(theta))
          const d = g.map((v, i) => (leaf === 'bias' ? v : (v + wd * theta[i]!) * ratio))
          vel[leaf] = vel[leaf].map((v, i) => mu * v + d[i]!)
          want[leaf] = theta.map((t, i) => t - lr * vel[leaf][i]!)
        }
      }
      expectClose(got, want, 1e-6)
    })

    it('adam: m, v with bias correction, θ ← θ − lr·(m̂/(√v̂ + ε) + wd·θ) (no wd on bias)', async () => {
      const [b1, b2, eps, wd, lr] = [0.9, 0.99, 1e-8, 0.01, 0.1]
      const got = await runThree(adam({ lr, beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd }))
      const want: Leaf3 = { weight: [...THETA0.weight], bias: [...THETA0.bias] }
      const m: Leaf3 = { weight: [0, 0, 0], bias: [0, 0, 0] }
      const v: Leaf3 = { weight: [0, 0, 0], bias: [0, 0, 0] }
      for (let k = 0; k < 3; k++) {
        const [c1, c2] = [1 - b1 ** (k + 1), 1 - b2 ** (k + 1)]
        for (const leaf of ['weight', 'bias'] as const) {
          const g = GRADS[k]!.map((x) => (leaf === 'bias' ? -x : x))
          m[leaf] = m[leaf].map((x, i) => b1 * x + (1 - b1) * g[i]!)
          v[leaf] = v[leaf].map((x, i) => b2 * x + (1 - b2) * g[i]! ** 2)
          want[leaf] = want[leaf].map((t, i) => t - lr * (m[leaf][i]! / c1 / (Math.sqrt(v[leaf][i]! / c2) + eps) + (leaf === 'bias' ? 0 : wd * t)))
        }
      }
      expectClose(got, want, 2e-6)
    })
  },
  ['cpu', 'wasm', 'webgpu'],
)
