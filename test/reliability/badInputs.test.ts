/**
 * Bad input, tried as a user would: every row runs the built `polyak` in a fresh directory holding
 * only the row's own input files, and asserts the exit code (2: usage or input error), a message
 * that names the field or flag at fault, a message of bounded length (a bad value is never echoed
 * whole), and that the directory holds nothing new afterwards.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { polyak } from '../support/cli.js'

interface Row {
  readonly args: readonly string[]
  readonly stdin?: string
  /** Files to create in the run's directory (name → content; `null` makes a directory, `FIFO` a named pipe). */
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
/** A supervised train file on cpu with a `model` field. */
const trainWith = (model: unknown) =>
  JSON.stringify({ kind: 'supervised', backend: 'cpu', data: { trainImages: 100, testImages: 10 }, model, config: { samples: 8 } })
/** A file content that makes a FIFO (named pipe) instead of a file. */
const FIFO = '\u0000fifo'

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
  'demo: --backend reference': { args: ['demo', '--backend', 'reference'], message: /--backend: the demo needs tfjs gradients/ },
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

  // the model field of train files (checked by polyak check and by polyak train before any data)
  'check: model kind unknown': { args: ['check', 'c.json'], files: cfg(trainWith({ kind: 'vgg' })), message: /model\.kind.*'convNet' or 'resnet'/ },
  'check: model depth 19': { args: ['check', 'c.json'], files: cfg(trainWith({ kind: 'resnet', depth: 19 })), message: /model\.depth.*6n \+ 2/ },
  'check: model depth as a string': { args: ['check', 'c.json'], files: cfg(trainWith({ kind: 'resnet', depth: '20' })), message: /model\.depth/ },
  'check: model width 0': { args: ['check', 'c.json'], files: cfg(trainWith({ kind: 'resnet', depth: 8, width: 0 })), message: /model\.width/ },
  'check: model style vgg': { args: ['check', 'c.json'], files: cfg(trainWith({ kind: 'resnet', depth: 8, style: 'vgg' })), message: /model\.style/ },
  'check: ResNet-50 with the basic block': {
    args: ['check', 'c.json'],
    files: cfg(trainWith({ kind: 'resnet', depth: 50, style: 'imagenet', block: 'basic' })),
    message: /model\.block.*bottleneck/,
  },
  'check: CIFAR bottleneck depth 20 is fine, 21 is not': {
    args: ['check', 'c.json'],
    files: cfg(trainWith({ kind: 'resnet', depth: 21, block: 'bottleneck' })),
    message: /model\.depth.*9n \+ 2/,
  },
  'check: model norm misspelled': {
    args: ['check', 'c.json'],
    files: cfg(trainWith({ kind: 'resnet', depth: 8, norm: 'batchNrm' })),
    message: /model\.norm.*not registered/,
  },
  'check: an activation normalizer as weightNorm': {
    args: ['check', 'c.json'],
    files: cfg(trainWith({ kind: 'resnet', depth: 8, weightNorm: 'batchNorm' })),
    message: /model\.weightNorm.*not a weight normalizer/,
  },
  'check: a bad normalizer config in the model': {
    args: ['check', 'c.json'],
    files: cfg(trainWith({ kind: 'resnet', depth: 8, norm: { name: 'groupNorm', config: { groups: -1 } } })),
    message: /model\.norm\.config\.groups/,
  },
  'check: model field misspelled': {
    args: ['check', 'c.json'],
    files: cfg(trainWith({ kind: 'resnet', depht: 8 })),
    message: /model\.depht.*did you mean 'depth'/,
  },
  'check: model as an array': { args: ['check', 'c.json'], files: cfg(trainWith([{ kind: 'resnet' }])), message: /model\.kind.*expected a model spec object/ },
  'check: model as a string': { args: ['check', 'c.json'], files: cfg(trainWith('resnet20')), message: /model\.kind.*expected a model spec object/ },
  'check: model null': { args: ['check', 'c.json'], files: cfg(trainWith(null)), message: /model\.kind.*expected a model spec object/ },
  'check: convNet widths empty': { args: ['check', 'c.json'], files: cfg(trainWith({ kind: 'convNet', widths: [] })), message: /model\.widths|at least one/ },
  'check: convNet width 0': { args: ['check', 'c.json'], files: cfg(trainWith({ kind: 'convNet', widths: [4, 0] })), message: /model\.widths\.1/ },
  'check: groups that do not divide the ResNet stem': {
    args: ['check', 'c.json'],
    files: cfg(trainWith({ kind: 'resnet', depth: 8, width: 6, norm: { name: 'groupNorm', config: { groups: 4 } } })),
    message: /stem\/norm: .*4 groups do not divide 6 channels/,
  },
  'train: a bad model is refused before any data': { args: ['train', 'c.json'], files: cfg(trainWith({ kind: 'resnet', depth: 19 })), message: /model\.depth/ },
  'train: BatchNorm on one value deep in a ResNet': {
    args: ['train', 'c.json'],
    files: cfg(
      JSON.stringify({
        kind: 'supervised',
        backend: 'cpu',
        data: { trainImages: 100, testImages: 10 },
        model: { kind: 'resnet', depth: 18, style: 'imagenet', width: 2 },
        config: { batchSize: 1 },
      }),
    ),
    message: /layer3\/0\/norm1: .*more than 1 value per channel/,
  },

  // model specs given to polyak check
  'check spec: depth 21': { args: ['check', 'm.json'], files: { 'm.json': spec({ kind: 'resnet', depth: 21 }) }, message: /depth.*6n \+ 2/ },
  'check spec: ImageNet depth 20': {
    args: ['check', 'm.json'],
    files: { 'm.json': spec({ kind: 'resnet', depth: 20, style: 'imagenet' }) },
    message: /18, 34, 50, 101 and 152/,
  },
  'check spec: --input with two numbers': {
    args: ['check', 'm.json', '--input', '32,32'],
    files: { 'm.json': spec({ kind: 'resnet', depth: 8 }) },
    message: /--input must be H,W,C/,
  },
  'check spec: --input with a 0': {
    args: ['check', 'm.json', '--input', '0,32,3'],
    files: { 'm.json': spec({ kind: 'resnet', depth: 8 }) },
    message: /--input \(dimension 1\)/,
  },
  'check spec: --input not numbers': {
    args: ['check', 'm.json', '--input', 'a,b,c'],
    files: { 'm.json': spec({ kind: 'resnet', depth: 8 }) },
    message: /--input \(dimension 1\)/,
  },
  'check spec: --batch 0': { args: ['check', 'm.json', '--batch', '0'], files: { 'm.json': spec({ kind: 'resnet', depth: 8 }) }, message: /--batch must be/ },
  'check spec: --classes 0': {
    args: ['check', 'm.json', '--classes', '0'],
    files: { 'm.json': spec({ kind: 'resnet', depth: 8 }) },
    message: /--classes must be/,
  },
  'check spec: an unknown field': {
    args: ['check', 'm.json'],
    files: { 'm.json': spec({ kind: 'resnet', depth: 8, widht: 4 }) },
    message: /widht.*did you mean 'width'/,
  },
  'check spec: BatchNorm on one value per channel, named by layer': {
    args: ['check', 'm.json', '--input', '4,4,3', '--batch', '1'],
    files: { 'm.json': spec({ kind: 'resnet', depth: 8 }) },
    message: /layer3\/0\/norm1: .*more than 1 value per channel/,
  },
  'check spec: a weight normalizer that does not exist': {
    args: ['check', 'm.json'],
    files: { 'm.json': spec({ kind: 'resnet', depth: 8, weightNorm: 'weightAlgn' }) },
    message: /weightNorm.*not registered/,
  },

  // path arguments that are a directory, a FIFO, or cannot be read: exit 2, naming the argument
  'apply: the spec is a directory': { args: ['apply', 'd'], files: { d: null }, message: /the spec 'd' is a directory/ },
  'apply: the spec is .': { args: ['apply', '.'], message: /the spec '\.' is a directory/ },
  'apply: the spec is a FIFO': { args: ['apply', 'f'], files: { f: FIFO }, message: /the spec 'f' is not a regular file \(a FIFO\)/ },
  'apply: the spec is missing': { args: ['apply', 'nope.json'], message: /cannot read the spec 'nope\.json': ENOENT, it does not exist/ },
  'apply: a path through a file': { args: ['apply', 'c.json/x'], files: cfg('{}'), message: /cannot read the spec 'c\.json\/x': ENOTDIR/ },
  'check: the file is a directory': { args: ['check', 'd'], files: { d: null }, message: /the file 'd' is a directory/ },
  'check: the file is a FIFO': { args: ['check', 'f'], files: { f: FIFO }, message: /the file 'f' is not a regular file/ },
  'train: the config is a directory': { args: ['train', 'd'], files: { d: null }, message: /the config 'd' is a directory/ },
  'train: the config is a FIFO': { args: ['train', 'f'], files: { f: FIFO }, message: /the config 'f' is not a regular file/ },
  'train: --checkpoint is a FIFO': {
    args: ['train', 'c.json', '--checkpoint', 'f'],
    files: { ...cfg(semi()), f: FIFO },
    message: /--checkpoint: 'f' is not a regular file/,
  },
  'sweep: the grid is a directory': { args: ['sweep', 'd'], files: { d: null }, message: /the grid 'd' is a directory/ },
  'sweep: the grid is a FIFO': { args: ['sweep', 'f'], files: { f: FIFO }, message: /the grid 'f' is not a regular file/ },
  'laws: --subject is a directory': { args: ['laws', '--subject', 'd'], files: { d: null }, message: /--subject: 'd' is a directory/ },
  'laws: --subject is a FIFO': { args: ['laws', '--subject', 'f'], files: { f: FIFO }, message: /--subject: 'f' is not a regular file/ },
  'laws: --subject is missing': { args: ['laws', '--subject', 'nope.mjs'], message: /cannot read --subject: 'nope\.mjs': ENOENT/ },
}

const MAX_MESSAGE = 1200

describe('bad input: exit 2, a message naming the field, nothing left behind', () => {
  it(`the table has at least 100 rows (${Object.keys(ROWS).length})`, () => {
    expect(Object.keys(ROWS).length).toBeGreaterThanOrEqual(100)
  })
  it.concurrent.each(Object.entries(ROWS))('%s', async (_, row) => {
    const dir = mkdtempSync(join(tmpdir(), 'polyak-bad-'))
    for (const [name, content] of Object.entries(row.files ?? {})) {
      if (content === null) mkdirSync(join(dir, name))
      else if (content === FIFO) execFileSync('mkfifo', [join(dir, name)])
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
