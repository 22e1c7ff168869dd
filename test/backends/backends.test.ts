import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { BackendUnavailableError, UnknownBackendError } from 'polyak'
import { backendNames, getBackend, tensorflow, useBackend } from 'polyak/backends'
import { requiredBackends } from '../support/backends.js'
import { polyak } from '../support/cli.js'

interface Row {
  name: string
  available: boolean
  reason?: string
}

describe('backend registry', () => {
  it('knows the five backends', () => {
    expect([...backendNames].sort()).toEqual(['cpu', 'reference', 'tensorflow', 'wasm', 'webgpu'])
  })

  it('an unknown name is an error listing the known names', async () => {
    const d = getBackend('gpu')
    expect(E.isLeft(d) && d.left instanceof UnknownBackendError).toBe(true)
    const r = await useBackend('gpu')()
    expect(E.isLeft(r)).toBe(true)
    if (E.isLeft(r)) expect(r.left.message).toMatch(/unknown backend 'gpu': known backends are wasm, webgpu, cpu, tensorflow, reference/)
  })

  it('the tensorflow backend, when not installed, says so and how to install it', async () => {
    const a = await tensorflow.probe()
    if (a.available) {
      expect(E.isRight(await useBackend('tensorflow')())).toBe(true)
      return
    }
    expect(a.reason).toMatch(/@tensorflow\/tfjs-node-gpu is not installed/)
    expect(a.reason).toMatch(/npm install @tensorflow\/tfjs-node-gpu/)
    const r = await useBackend('tensorflow')()
    expect(E.isLeft(r) && r.left instanceof BackendUnavailableError).toBe(true)
  })
})

describe('polyak backends (command line)', () => {
  it('--json lists every backend with availability, and a reason for each unavailable one', async () => {
    const { code, stdout } = await polyak(['backends', '--json'])
    expect(code).toBe(0)
    const rows = JSON.parse(stdout) as Row[]
    expect(rows.map((r) => r.name).sort()).toEqual(['cpu', 'reference', 'tensorflow', 'wasm', 'webgpu'])
    for (const r of rows) {
      expect(typeof r.available).toBe('boolean')
      if (!r.available) expect(r.reason).toMatch(/\S/)
      if (requiredBackends().has(r.name)) expect(r, `${r.name} is required by POLYAK_REQUIRE_BACKENDS`).toMatchObject({ available: true })
    }
    expect(rows.find((r) => r.name === 'reference')?.available).toBe(true)
  })

  it('prints a table for people', async () => {
    const { code, stdout } = await polyak(['backends'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/^backend\s+available/)
    for (const name of backendNames) expect(stdout).toMatch(new RegExp(`^${name}\\s+(yes|no)`, 'm'))
  })

  it('reports webgpu unavailable, with the Vulkan hint, when no Vulkan driver can be found', async () => {
    const env = { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json', VK_DRIVER_FILES: '/nonexistent/icd.json' }
    const { code, stdout } = await polyak(['backends', '--json'], { env })
    expect(code).toBe(0)
    const webgpu = (JSON.parse(stdout) as Row[]).find((r) => r.name === 'webgpu')!
    expect(webgpu.available).toBe(false)
    expect(webgpu.reason).toMatch(/no WebGPU adapter.*Vulkan driver.*lavapipe/)
  })

  it('an unknown command or option exits 2 with usage', async () => {
    const unknown = await polyak(['frobnicate'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/)
    const badOption = await polyak(['backends', '--jsn'])
    expect(badOption.code).toBe(2)
    expect(badOption.stderr).toMatch(/--jsn/)
  })
})
