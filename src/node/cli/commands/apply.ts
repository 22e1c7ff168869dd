/** `polyak apply`: one normalizer, EMA or teacher update from a JSON spec. @module cli/commands/apply */
import * as E from 'fp-ts/lib/Either.js'
import { applyOps, decodeSpec, runSpec } from '../apply.js'
import { defineCommand } from '../args.js'
import { MAX_INPUT_FLAG, backendFlag, readJson } from '../common.js'

export const applyCommand = defineCommand({
  name: 'apply',
  usage: 'polyak apply [SPEC.json|-] [--backend B]',
  summary: 'run one normalizer / EMA / teacher update from a JSON spec (stdin when no file or -); prints {outputs, params, stats}',
  positionals: { min: 0, max: 1, name: 'SPEC.json' },
  flags: { backend: backendFlag("backend (default: the spec's, else cpu)"), 'max-input-mb': MAX_INPUT_FLAG },
  details: () => `Ops (the registered normalizers, then ema and teacherUpdate):\n  ${applyOps().join(', ')}`,
  run: async (v, positionals) => {
    const spec = decodeSpec(await readJson(positionals[0], v['max-input-mb'], 'the spec'))
    if (E.isLeft(spec)) throw spec.left
    const result = await runSpec(spec.right, v.backend ?? 'cpu')
    process.stdout.write(JSON.stringify(result) + '\n')
    return 0
  },
})
