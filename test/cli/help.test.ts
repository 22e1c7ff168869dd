/** Every subcommand answers --help with exit 0 and its flags; --version prints package.json's version. */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { VERSION } from 'polyak'
import { polyak } from '../support/cli.js'

const FLAGS: Record<string, string[]> = {
  demo: ['--backend', '--seed', '--seeds', '--full', '--out', '--scale', '--train-images', '--test-images'],
  train: ['--backend', '--checkpoint', '--every', '--resume', '--on-nan', '--json', '--max-input-mb'],
  bench: ['--json', '--backend'],
  backends: ['--json'],
  apply: ['--backend', '--max-input-mb'],
  laws: ['--backend', '--runs', '--seed', '--json'],
  playground: ['--port', '--isolate'],
}

describe('polyak --help and --version', () => {
  it.concurrent.each(Object.entries(FLAGS))('polyak %s --help exits 0 and lists its flags', async (command, flags) => {
    const r = await polyak([command, '--help'])
    expect(r.code).toBe(0)
    for (const f of flags) expect(r.stdout).toContain(f)
  })

  it('polyak --version prints the version of package.json', async () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }
    expect(VERSION).toBe(pkg.version)
    const r = await polyak(['--version'])
    expect(r.code).toBe(0)
    expect(r.stdout.trim()).toBe(pkg.version)
  })

  it('polyak help lists every command and the exit codes', async () => {
    const r = await polyak(['help'])
    expect(r.code).toBe(0)
    for (const c of Object.keys(FLAGS)) expect(r.stdout).toContain(`polyak ${c}`)
    expect(r.stdout).toMatch(/2 usage or input error/)
  })
})
