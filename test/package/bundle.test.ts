/**
 * The browser entries bundle for the browser: esbuild, `platform: 'browser'`, from the built package
 * through its own exports, as an app's bundler would. A Node builtin anywhere in an entry's graph
 * fails the build (esbuild cannot resolve `node:fs` for a browser) and is also looked for in the
 * bundle's inputs. Sizes (minified, and gzipped) are printed and held to a budget:
 * - "own": polyak's code alone, its peers (tfjs, fp-ts, io-ts, fast-check) left to the app;
 * - "app": everything the entry pulls in, tfjs-core and the backends included.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { gzipSync } from 'node:zlib'
import { builtinModules } from 'node:module'
import * as esbuild from 'esbuild'
import { describe, expect, it } from 'vitest'

const KiB = 1024
/**
 * Budgets in KiB of minified output, about 25 % above the sizes measured on 2026-12-07 with the
 * module layer, the ResNets, model specs and exported pipeline steps (own / app: polyak 140 / 286,
 * polyak/laws 165 / 464 with the whole-model laws, which run models on TensorFlow.js,
 * polyak/backends 66 / 978, polyak/layers 62 / 193).
 */
const ENTRIES = [
  { entry: 'polyak', own: 175, app: 360 },
  { entry: 'polyak/laws', own: 205, app: 580 },
  { entry: 'polyak/backends', own: 85, app: 1200 },
  { entry: 'polyak/layers', own: 80, app: 245 },
] as const
const PEERS = ['@tensorflow/*', 'fp-ts', 'fp-ts/*', 'io-ts', 'io-ts/*', 'fast-check']
const NODE_BUILTINS = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)])

const bundle = async (entry: string, external: string[]): Promise<{ min: number; gzip: number; inputs: string[] }> => {
  const r = await esbuild.build({
    stdin: { contents: `export * from '${entry}'`, resolveDir: process.cwd(), loader: 'js' },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    metafile: true,
    logLevel: 'silent',
    external,
  })
  const code = r.outputFiles[0]!.contents
  return { min: code.length, gzip: gzipSync(code).length, inputs: Object.keys(r.metafile.inputs) }
}

describe('browser entries', () => {
  for (const { entry, own, app } of ENTRIES) {
    it(`${entry} bundles for the browser with no Node builtin, within ${own} KiB (own) and ${app} KiB (app)`, async () => {
      const mine = await bundle(entry, PEERS)
      const all = await bundle(entry, [])
      for (const b of [mine, all]) {
        const builtins = b.inputs.filter((i) => NODE_BUILTINS.has(i) || i.startsWith('node:'))
        expect(builtins).toEqual([])
        expect(b.inputs.filter((i) => i.includes('/src/node/'))).toEqual([])
      }
      const kib = (n: number): string => `${(n / KiB).toFixed(0)} KiB`
      console.log(`[bundle] ${entry}: own ${kib(mine.min)} min / ${kib(mine.gzip)} gzip; app ${kib(all.min)} min / ${kib(all.gzip)} gzip`)
      expect(mine.min).toBeLessThanOrEqual(own * KiB)
      expect(all.min).toBeLessThanOrEqual(app * KiB)
    })
  }

  it('fails on a Node builtin, as the check above relies on', async () => {
    await expect(bundle('polyak/node', PEERS)).rejects.toThrow(/node:/)
  })
})

/** Every TypeScript source under `dir`. */
const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []))

describe('the folders show the layering', () => {
  const importsOf = (file: string): string[] => [...readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]!)
  const browserClean = ['src', 'laws', 'backends'].flatMap(sources).filter((f) => !f.startsWith(join('src', 'node')))

  it('nothing outside src/node imports a Node builtin', () => {
    const offenders = browserClean.flatMap((f) =>
      importsOf(f)
        .filter((i) => NODE_BUILTINS.has(i) || i.startsWith('node:'))
        .map((i) => `${f}: ${i}`),
    )
    expect(offenders).toEqual([])
  })

  it('nothing outside src/node imports from it: Node-only code sits on the browser-clean code, never under it', () => {
    const nodeDir = resolve('src/node')
    const offenders = browserClean.flatMap((f) =>
      importsOf(f)
        .filter((i) => i.startsWith('.') && resolve(f, '..', i).startsWith(nodeDir))
        .map((i) => `${f}: ${relative('.', resolve(f, '..', i))}`),
    )
    expect(offenders).toEqual([])
  })
})
