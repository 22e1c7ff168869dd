/**
 * The registry as documentation: one markdown table of every registered normalizer, generated from
 * the definitions themselves (name, kind, summary, capabilities, config fields and their defaults),
 * so the README's table cannot drift from the code. `test/norm/registryTable.test.ts` checks the
 * README holds it; `npm run docs:generated` rewrites it.
 *
 * @module norm/registryTable
 */
import * as E from 'fp-ts/lib/Either.js'
import type { AnyDefinition } from './definition.js'
import { normalizerDefinitions } from './registry.js'

const show = (v: unknown): string => (typeof v === 'number' ? String(Number(v.toPrecision(6))) : typeof v === 'string' ? `'${v}'` : JSON.stringify(v))

/**
 * The config fields of a definition: `name = default` for each default an empty config decodes to;
 * where an empty config is refused (a required field, a choice between fields), the field names
 * and the decoder's own words for what is missing.
 */
export const configSummary = (d: AnyDefinition): string => {
  const names = Object.keys(d.fields)
  if (names.length === 0) return '—'
  const decoded = d.decode({})
  if (E.isLeft(decoded)) return `${names.map((k) => `\`${k}\``).join(', ')}; ${decoded.left.issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`
  const defaults = decoded.right as Record<string, unknown>
  return names.map((k) => (defaults[k] === undefined ? `\`${k}\`` : `\`${k}\` = ${show(defaults[k])}`)).join(', ')
}

const cell = (s: string): string => s.replaceAll('|', '\\|')

/**
 * A markdown table of the registered normalizers: `| name | kind | what | batch-dependent | statistics | config |`.
 * Weight normalizers have no capabilities row of their own: they never depend on the batch and keep no statistics.
 */
export const registryMarkdown = (definitions: readonly AnyDefinition[] = normalizerDefinitions()): string =>
  [
    '| name | kind | what | batch-dependent (train) | statistics | config (defaults) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...definitions.map((d) => {
      const caps = d.kind === 'activation' ? d.capabilities : { batchDependent: false, hasStats: false }
      return `| \`${d.name}\` | ${d.kind} | ${cell(d.summary)} | ${caps.batchDependent ? 'yes' : 'no'} | ${caps.hasStats ? 'yes' : 'no'} | ${cell(configSummary(d))} |`
    }),
  ].join('\n')
