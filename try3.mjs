import { unsafeUseBackend } from '/work/main/dist/backends/index.js'
import { loadMnist } from '/work/main/dist/src/data/mnist.js'
import { runSelfSupervised, SELF_DEFAULTS } from '/work/main/dist/src/train/selfSupervised.js'
import * as tf from '@tensorflow/tfjs-core'
await unsafeUseBackend(process.argv[2] ?? 'wasm')
const train = loadMnist('train', { limit: 10000, factor: 2 })
const test = loadMnist('test', { limit: 2000, factor: 2 })
for (const method of ['byol-bn','byol-eman','byol-m2','simclr-encoder','simclr-projector']) {
  const r = await runSelfSupervised({ ...SELF_DEFAULTS, method, steps: Number(process.argv[3] ?? 20) }, train, test, (s, m) => { if (s % 50 === 0) console.log(method, s, m.loss.toFixed(3), tf.memory().numTensors) })
  console.log(method, 'probe', r.linearProbe, 'knn', r.knn, 'loss', r.finalLoss.toFixed(3), r.seconds + 's', tf.memory().numTensors)
}
process.exit(0)
