/**
 * SGD against its formula, computed by hand in float64, over three steps with momentum, weight decay
 * (skipped on BN/bias leaves), Nesterov and a learning-rate schedule.
 */
import * as tf from '@tensorflow/tfjs-core'
import { expect } from 'vitest'
import { sgd } from '../../src/optim/optimizers.js'
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
