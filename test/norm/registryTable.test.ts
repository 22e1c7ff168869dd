/**
 * The README's table of normalizers is generated from the registry: a normalizer registered in
 * code (an RMSNorm written here) gets its row with its summary, capabilities and config defaults,
 * and the README holds the table of the built-ins as the registry makes it now.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import * as E from 'fp-ts/lib/Either.js'
import { afterAll, describe, expect, it } from 'vitest'
import { Epsilon, decodeConfig, normalizerDefinitions, registerNormalizer, registryMarkdown, unregisterNormalizer } from 'polyak'
import { commandHelp } from '../../src/node/cli/args.js'
import { applyCommand } from '../../src/node/cli/commands/apply.js'

const BEGIN = '<!-- normalizer registry: generated from the registry (npm run docs:generated) -->'
const END = '<!-- end of the normalizer registry -->'

describe('the registry table', () => {
  afterAll(() => {
    unregisterNormalizer('rmsNormDoc')
  })

  it('is what the README holds', () => {
    const readme = readFileSync('README.md', 'utf8')
    const start = readme.indexOf(BEGIN)
    const end = readme.indexOf(END)
    expect(start, `README.md has no line ${BEGIN}`).toBeGreaterThanOrEqual(0)
    expect(end).toBeGreaterThan(start)
    const generated = registryMarkdown()
    if (process.env.POLYAK_WRITE_DOCS === '1') {
      writeFileSync('README.md', `${readme.slice(0, start + BEGIN.length)}\n\n${generated}\n\n${readme.slice(end)}`)
      return
    }
    const cells = (t: string): string[] =>
      t
        .trim()
        .split('\n')
        .map((l) => l.replace(/\s+/g, ' ').replace(/-{3,}/g, '---').trim())
    expect(cells(readme.slice(start + BEGIN.length, end)), 'README.md: the normalizer table is out of date: run npm run docs:generated').toEqual(
      cells(generated),
    )
    for (const d of normalizerDefinitions()) expect(generated).toContain(`| \`${d.name}\` |`)
  })

  it('gives a normalizer registered in code its row, and apply --help lists it', () => {
    expect(commandHelp(applyCommand)).not.toMatch(/rmsNormDoc/)
    registerNormalizer({
      kind: 'activation',
      name: 'rmsNormDoc',
      summary: 'RMSNorm over the channels (a test definition)',
      capabilities: { batchDependent: false, hasStats: false },
      fields: { epsilon: Epsilon },
      decode: (config) => decodeConfig('rmsNormDoc config', { epsilon: Epsilon }, { epsilon: 1e-6 as Epsilon }, config),
      build: (ops) => ({
        name: 'rmsNormDoc',
        init: () => ({ params: {}, stats: {} }),
        apply: (x) => (s) => [ops.clone(x), s],
      }),
    })
    expect(registryMarkdown()).toContain('| `rmsNormDoc` | activation | RMSNorm over the channels (a test definition) | no | no | `epsilon` = 0.000001 |')
    expect(commandHelp(applyCommand)).toMatch(/rmsNormDoc/)
  })

  it('shows what an empty config lacks where one is refused', () => {
    const mbn = normalizerDefinitions('activation').find((d) => d.name === 'momentumBatchNorm')!
    expect(E.isLeft(mbn.decode({}))).toBe(true)
    expect(registryMarkdown([mbn])).toMatch(/`totalSteps`.*totalSteps: /)
  })
})
