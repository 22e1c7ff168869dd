#!/usr/bin/env node
/**
 * The `polyak` command line.
 *
 * @module cli/main
 */
import { parseArgs } from 'node:util'
import { probeBackends } from '../../backends/index.js'
import { formatTable } from './table.js'

const HELP = `polyak: normalizers and moving-average teachers as pure state transitions on TensorFlow.js

Usage:
  polyak backends [--json]   list every backend, whether it can run here, and why not
  polyak help                this text

Options:
  --json                     machine-readable output
`

const backendsCommand = async (argv: string[]): Promise<number> => {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false } }, strict: true })
  const rows = await probeBackends()
  if (values.json) {
    process.stdout.write(
      JSON.stringify(
        rows.map((r) => (r.available ? { name: r.name, available: true } : { name: r.name, available: false, reason: r.reason })),
        null,
        2,
      ) + '\n',
    )
  } else {
    process.stdout.write(
      formatTable(
        ['backend', 'available', 'why not / what it is'],
        rows.map((r) => [r.name, r.available ? 'yes' : 'no', r.available ? r.description : (r.reason ?? '')]),
      ) + '\n',
    )
  }
  return 0
}

const commands: Record<string, (argv: string[]) => Promise<number>> = {
  backends: backendsCommand,
  help: () => {
    process.stdout.write(HELP)
    return Promise.resolve(0)
  },
}

const main = async (argv: string[]): Promise<number> => {
  const [name = 'help', ...rest] = argv
  if (name === '--help' || name === '-h') return commands.help!(rest)
  const command = commands[name]
  if (command === undefined) {
    process.stderr.write(`polyak: unknown command '${name}'\n\n${HELP}`)
    return 2
  }
  try {
    return await command(rest)
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e)
    process.stderr.write(`polyak ${name}: ${msg}\n`)
    // Usage errors (unknown option, missing value) exit 2, like the unknown command above.
    const usage = String((e as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS')
    if (usage) process.stderr.write(`\n${HELP}`)
    return usage ? 2 : 1
  }
}

// Dawn (webgpu in Node) keeps the event loop alive; exit explicitly once the command is done.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`polyak: ${String(e)}\n`)
    process.exit(1)
  },
)
