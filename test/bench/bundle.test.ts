/**
 * `npm run bench:bundle`'s folder runs the benchmark where there is no Node and nothing installed:
 * built into a temporary folder, copied to a clean one, and run with a `PATH` that holds only the
 * shell tools the launcher uses (no `node`, no `npm`). On webgpu where this machine has it (CI
 * requires it), else on cpu. Needs the npm registry, as `npm ci` does, for Node's binary.
 */
import { execFile } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { webgpu } from 'polyak/backends'
import { requiredBackends } from '../support/backends.js'

const run = promisify(execFile)
const sizeOf = (p: string): number => (statSync(p).isDirectory() ? readdirSync(p).reduce((n, f) => n + sizeOf(join(p, f)), 0) : statSync(p).size)

/** A folder of links to the tools the launcher may call, and nothing else. */
const shellOnlyPath = (dir: string): string => {
  mkdirSync(dir)
  for (const tool of ['sh', 'gzip', 'cp', 'mkdir', 'chmod', 'mv', 'mktemp', 'dirname', 'ldconfig', 'grep']) {
    const at = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'].map((d) => join(d, tool)).find(existsSync)
    if (at !== undefined) symlinkSync(at, join(dir, tool))
  }
  return dir
}

describe('npm run bench:bundle', () => {
  it('makes a folder of at most 60 MiB that runs the benchmark without Node or npm on the PATH', async () => {
    const work = mkdtempSync(join(tmpdir(), 'polyak-bundle-'))
    const built = join(work, 'built')
    await run(process.execPath, ['scripts/bench-bundle.mjs', '--out', built], { timeout: 300_000 })
    expect(sizeOf(built) / 2 ** 20).toBeLessThanOrEqual(60)

    const clean = join(work, 'clean')
    cpSync(built, clean, { recursive: true })
    const path = shellOnlyPath(join(work, 'bin'))
    const env = { HOME: work, PATH: path }
    await expect(run('sh', ['-c', 'command -v node || command -v npm'], { env })).rejects.toThrow()

    const gpu = (await webgpu.probe()).available
    if (!gpu && requiredBackends().has('webgpu')) throw new Error('webgpu is required by POLYAK_REQUIRE_BACKENDS but unavailable')
    const backend = gpu ? 'webgpu' : 'cpu'
    const { stdout } = await run(join(clean, 'run'), ['bench', '--backend', backend, '--job', 'EMA update, ResNet-18 (11.7', '--json'], {
      env,
      cwd: work,
      timeout: 300_000,
      maxBuffer: 1 << 24,
    })
    const report = JSON.parse(stdout) as { machine: { node: string }; rows: Array<{ backend: string; job: string; timing?: { median: number } }> }
    expect(report.machine.node).toBe(process.version)
    expect(report.rows).toHaveLength(1)
    expect(report.rows[0]!.backend).toBe(backend)
    expect(report.rows[0]!.timing!.median).toBeGreaterThan(0)
    // Node and Dawn were unpacked into the folder, and the bundle ran with them
    expect(existsSync(join(clean, '.runtime', 'node'))).toBe(true)
    expect(existsSync(join(clean, '.runtime', 'node_modules', 'webgpu', 'dist', 'linux-x64', 'dawn.node'))).toBe(true)
  }, 600_000)
})
