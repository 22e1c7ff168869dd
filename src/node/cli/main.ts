#!/usr/bin/env node
/**
 * The `polyak` command line: a dispatcher over one module per command (`cli/commands/*`), each with
 * its typed flags. Exit codes: 0 on success, 2 for a usage or input error (a bad flag, a bad spec or
 * config, a tree mismatch, an unknown backend, a refused checkpoint), 1 for a failure at run time
 * (an unavailable backend, a missing optional package, divergence).
 *
 * @module cli/main
 */
import { VERSION } from '../../version.js'
import { type AnyCommand, commandHelp, exitCodeOf, parseCommand } from './args.js'
import { applyCommand } from './commands/apply.js'
import { backendsCommand } from './commands/backends.js'
import { benchCommand } from './commands/bench.js'
import { checkCommand } from './commands/check.js'
import { demoCommand } from './commands/demo.js'
import { experimentsCommand } from './commands/experiments.js'
import { lawsCommand } from './commands/laws.js'
import { playgroundCommand } from './commands/playground.js'
import { sweepCommand } from './commands/sweep.js'
import { trainCommand } from './commands/train.js'
import { workerCommand } from './commands/worker.js'

/** Every command, in the order the help lists them. */
const COMMANDS: readonly AnyCommand[] = [
  demoCommand,
  trainCommand,
  benchCommand,
  backendsCommand,
  applyCommand,
  checkCommand,
  lawsCommand,
  experimentsCommand,
  sweepCommand,
  workerCommand,
  playgroundCommand,
]

const HELP = `polyak ${VERSION}: normalizers and moving-average teachers as pure state transitions on TensorFlow.js

Usage:
${COMMANDS.map((c) => `  ${c.usage}\n      ${c.summary}`).join('\n')}
  polyak help | --help | --version

'polyak COMMAND --help' lists a command's options. Exit codes: 0 success, 2 usage or input error,
1 failure at run time.
`

const main = async (argv: string[]): Promise<number> => {
  const [name = 'help', ...rest] = argv
  if (name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(HELP)
    return 0
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${VERSION}\n`)
    return 0
  }
  const command = COMMANDS.find((c) => c.name === name)
  if (command === undefined) {
    process.stderr.write(`polyak: unknown command '${name.slice(0, 40)}'; the commands are ${COMMANDS.map((c) => c.name).join(', ')} (polyak --help)\n`)
    return 2
  }
  try {
    const parsed = parseCommand(command, rest)
    if (parsed === 'help') {
      process.stdout.write(commandHelp(command))
      return 0
    }
    // the values were parsed for this command's own flags: its run takes exactly them
    return await (command.run as (flags: unknown, positionals: readonly string[]) => Promise<number>)(parsed.values, parsed.positionals)
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e)
    process.stderr.write(`polyak ${command.name}: ${msg}\n`)
    return exitCodeOf(e)
  }
}

/** Resolves once everything written to `stream` so far has been handed to the OS (a pipe's reader may be slower than us). */
const drained = (stream: NodeJS.WriteStream): Promise<void> => new Promise((resolve) => stream.write('', () => resolve()))

// Dawn (webgpu in Node) keeps the event loop alive, so exit explicitly once the command is done,
// but only after stdout and stderr are flushed: exiting at once cut piped output at 64 KiB.
const exit = async (code: number): Promise<never> => {
  await Promise.all([drained(process.stdout), drained(process.stderr)])
  process.exit(code)
}
main(process.argv.slice(2)).then(exit, async (e: unknown) => {
  process.stderr.write(`polyak: ${String(e)}\n`)
  await exit(1)
})
