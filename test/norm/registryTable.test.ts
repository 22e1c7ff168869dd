/**
 * The README's table of normalizers is generated from the registry: a normalizer registered in
 * code (an RMSNorm written here) gets its row with its summary, capabilities and config defaults,
 * and the README holds the table of the built-ins as the registry makes it now.
 */
import * as E from 'fp-ts/lib/Either.js'
import { afterAll, describe, expect, it } from 'vitest'
import { Epsilon, decodeConfig, normalizerDefinitions, registerNormalizer, registryMarkdown, unregisterNormalizer } from 'polyak'
import { commandHelp } from '../../src/node/cli/args.js'
import { applyCommand } from '../../src/node/cli/commands/apply.js'
import { expectGeneratedBlock } from '../support/generatedBlock.js'

const BEGIN = '<!-- normalizer registry: generated from the registry (npm run docs:generated) -->'
const END = '<!-- end of the normalizer registry -->'

describe('the registry table', () => {
  afterAll(() => {
    unregisterNormalizer('rmsNormDoc')
  })

  it('is what the README holds', () => {
    const generated = registryMarkdown()
    expectGeneratedBlock('README.md', BEGIN, END, generated, 'the normalizer table')
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
