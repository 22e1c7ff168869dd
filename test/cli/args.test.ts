/** The typed flag parser: numbers parsed and bounded once, choices and backends checked, defaults filled, usage errors naming the flag. */
import { describe, expect, it } from 'vitest'
import { UsageError, commandHelp, defineCommand, exitCodeOf, parseCommand } from '../../src/node/cli/args.js'

const command = defineCommand({
  name: 'try',
  usage: 'polyak try [FILE]',
  summary: 'a command for the test',
  positionals: { min: 0, max: 1, name: 'FILE' },
  flags: {
    runs: { type: 'int', min: 1, max: 100, value: 'N', default: 10, help: 'runs' },
    seed: { type: 'int', min: -5, max: 5, value: 'S', help: 'seed' },
    scale: { type: 'number', above: 0, max: 2, value: 'X', default: 1, help: 'scale' },
    mode: { type: 'choice', choices: ['fast', 'slow'], default: 'fast', help: 'mode' },
    backend: { type: 'backend', names: ['cpu', 'wasm'], value: 'NAME', help: 'backend' },
    only: { type: 'backends', names: ['cpu', 'wasm'], value: 'NAME', help: 'backends' },
    job: { type: 'strings', value: 'TEXT', help: 'jobs' },
    json: { type: 'boolean', help: 'json' },
    out: { type: 'string', value: 'DIR', default: 'here', help: 'out' },
  },
  run: async () => 0,
})

const parse = (argv: string[]) => {
  const p = parseCommand(command, argv)
  if (p === 'help') throw new Error('help')
  return p
}

describe('parseCommand', () => {
  it('fills defaults with their types and leaves absent optional flags undefined', () => {
    const { values, positionals } = parse([])
    expect(values).toEqual({ runs: 10, seed: undefined, scale: 1, mode: 'fast', backend: undefined, only: undefined, job: undefined, json: false, out: 'here' })
    expect(positionals).toEqual([])
  })

  it('parses every value once, negative numbers included, and keeps repeatable flags in order', () => {
    const { values, positionals } = parse([
      'f.json',
      '--runs',
      '7',
      '--seed',
      '-3',
      '--scale',
      '0.5',
      '--mode',
      'slow',
      '--backend',
      'wasm',
      '--only',
      'cpu',
      '--only',
      'wasm',
      '--job',
      'a',
      '--job',
      'b',
      '--json',
    ])
    expect(values).toEqual({ runs: 7, seed: -3, scale: 0.5, mode: 'slow', backend: 'wasm', only: ['cpu', 'wasm'], job: ['a', 'b'], json: true, out: 'here' })
    expect(positionals).toEqual(['f.json'])
  })

  it.each([
    [['--runs', '0'], /--runs must be an integer in \[1, 100\], got "0"/],
    [['--runs', '2.5'], /--runs must be an integer/],
    [['--seed', '-6'], /--seed must be an integer in \[-5, 5\]/],
    [['--scale', '0'], /--scale must be a number in \(0, 2\], got "0"/],
    [['--scale', 'abc'], /--scale must be a number/],
    [['--mode', 'medium'], /--mode must be one of fast, slow, got "medium"/],
    [['--backend', 'gpu'], /--backend: unknown backend 'gpu'; known: cpu, wasm/],
    [['--only', 'cpu', '--only', 'tpu'], /--only: unknown backend 'tpu'/],
    [['--nope'], /Unknown option '--nope'.*see polyak try --help/],
    [['a', 'b'], /expected 0 to 1 FILE argument, got a b/],
  ])('refuses %j with a usage error (exit 2) naming the flag', (argv, message) => {
    let error: unknown
    try {
      parse(argv)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(UsageError)
    expect((error as Error).message).toMatch(message)
    expect(exitCodeOf(error)).toBe(2)
  })

  it('answers --help, and the help shows each flag with its placeholder and default', () => {
    expect(parseCommand(command, ['--runs', 'x', '--help'])).toBe('help')
    const help = commandHelp(command)
    expect(help).toMatch(/--runs N\s+runs \(default 10\)/)
    expect(help).toMatch(/--mode fast\|slow\s+mode \(default fast\)/)
    expect(help).toMatch(/--json\s+json\n/)
  })
})
