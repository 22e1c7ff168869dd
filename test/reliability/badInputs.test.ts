/**
 * Bad input, tried as a user would: every row runs the built `polyak` in a fresh directory holding
 * only the row's own input files, and asserts the exit code (2: usage or input error), a message
 * that names the field or flag at fault, a message of bounded length (a bad value is never echoed
 * whole), and that the directory holds nothing new afterwards.
 */
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { polyak } from '../support/cli.js'

interface Row {
  readonly args: readonly string[]
  readonly stdin?: string
  /** Files to create in the run's directory (name → content; a content of `null` makes a directory). */
  readonly files?: Readonly<Record<string, string | null>>
  readonly code?: number
  readonly message: RegExp
}

const x = (data: unknown[], shape = [data.length / 2, 2], extra: object = {}) => ({ shape, data, ...extra })
const spec = (s: object): string => JSON.stringify(s)
const bn = (inputs: object, extra: object = {}) => spec({ op: 'batchNorm', inputs, ...extra })
const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n)
const semi = (config: object = {}, extra: object = {}) =>
  JSON.stringify({
    kind: 'semiSupervised',
    backend: 'cpu',
    data: { trainImages: 200, testImages: 20 },
    config: { steps: 2, batchLabelled: 4, batchUnlabelled: 4, widths: [2, 2], labelledFraction: 0.1, evalEvery: 0, evalLimit: 20, ...config },
    ...extra,
  })
const cfg = (content: string) => ({ 'c.json': content })
const teacher = (studentW: object, teacherW: object) =>
  spec({ op: 'teacherUpdate', config: { decay: 0.9 }, inputs: { student: { params: { w: studentW } } }, params: { w: teacherW } })

const ROWS: Record<string, Row> = {
  // apply: the spec
  'apply: not JSON': { args: ['apply'], stdin: '{"op": ', message: /not valid JSON/ },
  'apply: 1e999 in data': {
    args: ['apply'],
    stdin: '{"op":"batchNorm","inputs":{"x":{"shape":[2,1],"data":[1,1e999]}}}',
    message: /inputs\.x\.data\[1\]'.*finite/,
  },
  'apply: __proto__ in params': {
    args: ['apply'],
    stdin: '{"op":"batchNorm","params":{"__proto__":{"shape":[1],"data":[1]}},"inputs":{"x":{"shape":[2,1],"data":[1,2]}}}',
    message: /params\.__proto__'.*not allowed/,
  },
  'apply: constructor at the top': {
    args: ['apply'],
    stdin: '{"op":"batchNorm","constructor":{},"inputs":{"x":{"shape":[2,1],"data":[1,2]}}}',
    message: /'constructor'.*not allowed/,
  },
  'apply: prototype nested': {
    args: ['apply'],
    stdin: '{"op":"batchNorm","inputs":{"x":{"shape":[2,1],"data":[1,2],"prototype":1}}}',
    message: /inputs\.x\.prototype'/,
  },
  'apply: toString as a field': { args: ['apply'], stdin: bn({ x: x([1, 2, 3, 4]) }, { toString: 1 }), message: /field 'toString': .*unknown field/ },
  'apply: int32 out of range': {
    args: ['apply'],
    stdin: spec({
      op: 'teacherUpdate',
      config: { decay: 0.9 },
      inputs: { student: { params: { w: x([1], [1]) }, stats: { n: x([3e9], [], { dtype: 'int32' }) } } },
      params: { w: x([0], [1]) },
      stats: { n: x([4], [], { dtype: 'int32' }) },
    }),
    message: /stats\.n\.data\[0\]'.*int32/,
  },
  'apply: nesting 2000 deep': { args: ['apply'], stdin: deep(2000), message: /nested deeper than 64 levels/ },
  'apply: a 5000-character mode': { args: ['apply'], stdin: bn({ x: x([1, 2, 3, 4]) }, { mode: 'm'.repeat(5000) }), message: /field 'mode'.*5002 characters/ },
  'apply: unknown op': { args: ['apply'], stdin: spec({ op: 'batchNormm' }), message: /field 'op'/ },
  'apply: data does not fill the shape': {
    args: ['apply'],
    stdin: bn({ x: x([1, 2, 3], [2, 2]) }),
    message: /inputs\.x\.data'.*3 values do not fill shape \[2,2\]/,
  },
  'apply: negative dimension': { args: ['apply'], stdin: bn({ x: x([1, 2], [-2, 1]) }), message: /inputs\.x\.shape'/ },
  'apply: unknown dtype': { args: ['apply'], stdin: bn({ x: x([1, 2, 3, 4], [2, 2], { dtype: 'float64' }) }), message: /inputs\.x\.dtype'/ },
  'apply: teacher and student differ in shape': { args: ['apply'], stdin: teacher(x([1, 2], [2]), x([0], [1])), message: /params\/w'.*\[1\].*\[2\]/ },
  'apply: teacher and student differ in structure': {
    args: ['apply'],
    stdin: spec({ op: 'teacherUpdate', config: { decay: 0.9 }, inputs: { student: { params: { v: x([1], [1]) } } }, params: { w: x([0], [1]) } }),
    message: /params\/(v|w)/,
  },
  'apply: unknown backend in the spec': { args: ['apply'], stdin: bn({ x: x([1, 2, 3, 4]) }, { backend: 'nope' }), message: /unknown backend 'nope'/ },
  'apply: unknown --backend': { args: ['apply', '--backend', 'nope'], stdin: bn({ x: x([1, 2, 3, 4]) }), message: /--backend: unknown backend 'nope'/ },
  'apply: no inputs.x': { args: ['apply'], stdin: spec({ op: 'batchNorm' }), message: /field 'inputs\.x'/ },
  'apply: decay above 1': { args: ['apply'], stdin: spec({ op: 'ema', config: { decay: 1.5 }, inputs: { w: x([1], [1]) } }), message: /field 'config\.decay'/ },
  'apply: unknown teacher policy': {
    args: ['apply'],
    stdin: spec({
      op: 'teacherUpdate',
      config: { decay: 0.9, policy: 'all' },
      inputs: { student: { params: { w: x([1], [1]) } } },
      params: { w: x([0], [1]) },
    }),
    message: /field 'config\.policy'/,
  },
  'apply: projectorOnly without prefixes': {
    args: ['apply'],
    stdin: spec({
      op: 'teacherUpdate',
      config: { decay: 0.9, policy: 'projectorOnly' },
      inputs: { student: { params: { w: x([1], [1]) } } },
      params: { w: x([0], [1]) },
    }),
    message: /field 'config\.prefixes'/,
  },
  'apply: negative ema count': {
    args: ['apply'],
    stdin: spec({ op: 'ema', config: { decay: 0.9 }, inputs: { w: x([1], [1]) }, stats: { average: { w: x([0], [1]) }, count: -1, decayProduct: 1 } }),
    message: /field 'stats\.count'/,
  },
  'apply: groups that do not divide the channels': {
    args: ['apply'],
    stdin: spec({ op: 'groupNorm', config: { groups: 3 }, inputs: { x: x([1, 2, 3, 4], [1, 4]) } }),
    message: /group/,
  },
  'apply: a spec over --max-input-mb': {
    args: ['apply', '--max-input-mb', '0.0001'],
    stdin: bn({ x: x(Array.from({ length: 100 }, (_, i) => i)) }),
    message: /larger than the limit.*--max-input-mb/,
  },
  'apply: negative --max-input-mb': { args: ['apply', '--max-input-mb', '-5'], stdin: '{}', message: /--max-input-mb must be/ },
  'apply: two spec files': { args: ['apply', 'a.json', 'b.json'], message: /expected 0 to 1 SPEC\.json argument, got a\.json b\.json/ },
  'apply: a spec file that does not exist': { args: ['apply', 'missing.json'], message: /cannot read the spec 'missing\.json': ENOENT/ },
  'apply: an array as the spec': { args: ['apply'], stdin: '[1, 2]', message: /field '<config>'.*expected an object/ },
  'apply: a number as mode': { args: ['apply'], stdin: bn({ x: x([1, 2, 3, 4]) }, { mode: 3 }), message: /field 'mode'/ },
  'apply: null as the spec': { args: ['apply'], stdin: 'null', message: /<config>/ },
  'apply: an unknown flag': { args: ['apply', '--fast'], stdin: '{}', message: /--fast/ },

  // train: the config file and flags
  'train: no config file argument': { args: ['train'], message: /CONFIG\.json/ },
  'train: the config file does not exist': { args: ['train', 'missing.json'], message: /cannot read the config 'missing\.json'/ },
  'train: the config is not JSON': { args: ['train', 'c.json'], files: cfg('{"kind":'), message: /not valid JSON/ },
  'train: unknown kind': { args: ['train', 'c.json'], files: cfg(JSON.stringify({ kind: 'semi' })), message: /field 'kind'/ },
  'train: negative steps': { args: ['train', 'c.json'], files: cfg(semi({ steps: -1 })), message: /steps/ },
  'train: __proto__ in the config': {
    args: ['train', 'c.json'],
    files: cfg('{"kind":"semiSupervised","config":{"__proto__":{"steps":1}}}'),
    message: /config\.__proto__'/,
  },
  'train: constructor in the config': {
    args: ['train', 'c.json'],
    files: cfg('{"kind":"semiSupervised","config":{"constructor":1}}'),
    message: /config\.constructor'/,
  },
  'train: 1e999 in the config': { args: ['train', 'c.json'], files: cfg('{"kind":"semiSupervised","config":{"lr":1e999}}'), message: /config\.lr'.*finite/ },
  'train: --every 0': { args: ['train', 'c.json', '--every', '0'], files: cfg(semi()), message: /--every must be/ },
  'train: --every -3': { args: ['train', 'c.json', '--every', '-3'], files: cfg(semi()), message: /--every must be.*-3/ },
  'train: --resume without --checkpoint': { args: ['train', 'c.json', '--resume'], files: cfg(semi()), message: /--resume needs --checkpoint/ },
  'train: the checkpoint is the config': {
    args: ['train', 'c.json', '--checkpoint', 'c.json'],
    files: cfg(semi()),
    message: /--checkpoint: 'c\.json' is the input file/,
  },
  'train: the checkpoint directory is missing': {
    args: ['train', 'c.json', '--checkpoint', 'no/such/dir/ck.json'],
    files: cfg(semi()),
    message: /--checkpoint: the directory 'no\/such\/dir' does not exist/,
  },
  'train: the checkpoint is a directory': {
    args: ['train', 'c.json', '--checkpoint', 'd'],
    files: { ...cfg(semi()), d: null },
    message: /--checkpoint: 'd' is a directory/,
  },
  'train: --on-nan maybe': { args: ['train', 'c.json', '--on-nan', 'maybe'], files: cfg(semi()), message: /--on-nan must be one of stop, warn/ },
  'train: unknown --backend': { args: ['train', 'c.json', '--backend', 'nope'], files: cfg(semi()), message: /--backend: unknown backend 'nope'/ },
  'train: unknown backend in the config': { args: ['train', 'c.json'], files: cfg(semi({}, { backend: 'nope' })), message: /backend/ },
  'train: --backend reference': {
    args: ['train', 'c.json', '--backend', 'reference'],
    files: cfg(semi()),
    message: /--backend: training needs tfjs gradients/,
  },
  'train: a checkpoint of a supervised run': {
    args: ['train', 'c.json', '--checkpoint', 'ck.json'],
    files: cfg(JSON.stringify({ kind: 'supervised', config: {} })),
    message: /--checkpoint: checkpoints are implemented for semiSupervised/,
  },
  'train: no training images': {
    args: ['train', 'c.json'],
    files: cfg(JSON.stringify({ kind: 'semiSupervised', data: { trainImages: 0 } })),
    message: /trainImages/,
  },
  'train: a config over --max-input-mb': { args: ['train', 'c.json', '--max-input-mb', '0.00001'], files: cfg(semi()), message: /larger than the limit/ },

  // demo
  'demo: --out is an existing file': {
    args: ['demo', '--out', 'report.txt', '--scale', '0.01'],
    files: { 'report.txt': 'keep me' },
    message: /--out: 'report\.txt' exists and is not a directory/,
  },
  'demo: --seeds 0': { args: ['demo', '--seeds', '0'], message: /--seeds must be/ },
  'demo: --scale 0': { args: ['demo', '--scale', '0'], message: /--scale must be/ },
  'demo: --scale abc': { args: ['demo', '--scale', 'abc'], message: /--scale must be.*abc/ },
  'demo: --backend reference': { args: ['demo', '--backend', 'reference'], message: /--backend: the demo trains with tfjs gradients/ },
  'demo: --train-images 5': { args: ['demo', '--train-images', '5'], message: /--train-images must be/ },
  'demo: --seed -1': { args: ['demo', '--seed', '-1'], message: /--seed must be.*-1/ },
  'demo: an unknown flag': { args: ['demo', '--fast'], message: /--fast/ },

  // laws
  'laws: --runs 0': { args: ['laws', '--runs', '0'], message: /--runs must be/ },
  'laws: --runs abc': { args: ['laws', '--runs', 'abc'], message: /--runs must be/ },
  'laws: --seed 1.5': { args: ['laws', '--seed', '1.5'], message: /--seed must be/ },
  'laws: unknown --backend': { args: ['laws', '--backend', 'nope'], message: /--backend: unknown backend 'nope'/ },

  // bench, backends, playground, the command itself
  'bench: unknown --backend': { args: ['bench', '--backend', 'nope'], message: /--backend: unknown backend 'nope'/ },
  'bench: an unknown flag': { args: ['bench', '--bogus'], message: /--bogus/ },
  'backends: --json with a value': { args: ['backends', '--json=1'], message: /--json/ },
  'backends: a positional': { args: ['backends', 'wasm'], message: /wasm/ },
  'playground: --port 70000': { args: ['playground', '--port', '70000'], message: /--port must be/ },
  'playground: --port -1': { args: ['playground', '--port', '-1'], message: /--port must be.*-1/ },
  'an unknown command': { args: ['trian'], message: /unknown command 'trian'/ },
}

const MAX_MESSAGE = 1200

describe('bad input: exit 2, a message naming the field, nothing left behind', () => {
  it(`the table has at least 60 rows (${Object.keys(ROWS).length})`, () => {
    expect(Object.keys(ROWS).length).toBeGreaterThanOrEqual(60)
  })
  it.concurrent.each(Object.entries(ROWS))('%s', async (_, row) => {
    const dir = mkdtempSync(join(tmpdir(), 'polyak-bad-'))
    for (const [name, content] of Object.entries(row.files ?? {})) {
      if (content === null) mkdirSync(join(dir, name))
      else writeFileSync(join(dir, name), content)
    }
    const before = readdirSync(dir).sort()
    const r = await polyak(row.args, { ...(row.stdin === undefined ? {} : { stdin: row.stdin }), cwd: dir, timeoutMs: 60_000 })
    expect(r.code, `exit code; stderr: ${r.stderr}`).toBe(row.code ?? 2)
    expect(r.stderr).toMatch(row.message)
    expect(r.stderr.length, 'the message is short: a bad value is never echoed whole').toBeLessThan(MAX_MESSAGE)
    expect(r.stderr).not.toMatch(/\n\s+at /) // no stack trace
    expect(readdirSync(dir).sort(), 'no files left behind').toEqual(before)
  })
})
