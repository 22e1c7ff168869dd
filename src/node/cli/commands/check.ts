/** `polyak check`: a train config, an apply spec or a model spec on shapes only. @module cli/commands/check */
import * as E from 'fp-ts/lib/Either.js'
import { checkSpecShapes, decodeSpec } from '../apply.js'
import { UsageError, defineCommand, parseInteger } from '../args.js'
import { MAX_INPUT_FLAG, readJson } from '../common.js'

const isRecord = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x)

/** `H,W,C`: three integers ≥ 1. */
const inputShape = (text: string): [number, number, number] => {
  const dims = text.split(',').map((d, i) => parseInteger(`input (dimension ${i + 1})`, d, 1, 1_000_000))
  if (dims.length !== 3) throw new UsageError(`--input must be H,W,C (three integers), got ${JSON.stringify(text)}`, '--input')
  return dims as [number, number, number]
}

/** A model spec on shapes, for `batch` images of `input`: every layer with its output shape and parameters. */
const checkModelSpec = async (value: unknown, input: [number, number, number], batch: number, classes: number | undefined, json: boolean): Promise<number> => {
  const { decodeModelSpec, buildModel } = await import('../../../nn/spec.js')
  const spec = decodeModelSpec(value)
  if (E.isLeft(spec)) throw spec.left
  const t0 = performance.now()
  const model = buildModel(spec.right, { inputShape: input, norm: 'batchNorm', ...(classes === undefined ? {} : { classes }) })
  const report = model.checkShapes(batch)
  const layers = model.layers()
  const us = Math.round((performance.now() - t0) * 1000)
  const params = layers.reduce((n, r) => n + r.params, 0)
  if (json) {
    process.stdout.write(JSON.stringify({ model: spec.right, input, batch, output: report.logits ?? report.features, params, layers, microseconds: us }) + '\n')
    return 0
  }
  const { formatTable } = await import('../table.js')
  const shape = (s: readonly number[]) => `[${[batch, ...s].join(', ')}]`
  const rows = layers.map((r) => [r.path, r.kind, shape(r.outShape), r.params === 0 ? '' : r.params.toLocaleString('en-US')])
  process.stdout.write(
    `${formatTable(['layer', 'kind', 'output', 'params'], rows)}\n` +
      `${spec.right.kind} on [${[batch, ...input].join(', ')}]: output [${(report.logits ?? report.features).join(', ')}], ${params.toLocaleString('en-US')} parameters, ${layers.length} layers (${us} µs on shapes)\n`,
  )
  return 0
}

export const checkCommand = defineCommand({
  name: 'check',
  usage: 'polyak check FILE.json [--input H,W,C] [--batch N] [--classes K] [--json]',
  summary:
    'run a train config, an apply spec or a model spec ({"kind": "resnet", "depth": 50, ...}) on shapes only (no data, no tensors): the errors a real run would raise, in microseconds; a model spec prints its layer table',
  positionals: { min: 1, max: 1, name: 'FILE.json' },
  flags: {
    json: { type: 'boolean', help: 'machine-readable output' },
    'max-input-mb': MAX_INPUT_FLAG,
    input: { type: 'string', value: 'H,W,C', default: '32,32,3', help: 'a model spec: the per-image input shape' },
    batch: { type: 'int', min: 1, max: 1_000_000, value: 'N', default: 8, help: 'a model spec: the batch size' },
    classes: { type: 'int', min: 1, max: 1_000_000, value: 'K', help: 'a model spec: add a linear classifier of K classes' },
  },
  run: async (v, positionals) => {
    const file = positionals[0]!
    const value = await readJson(file, v['max-input-mb'], 'the file', `'${file}'`)
    if (isRecord(value) && Object.hasOwn(value, 'op')) {
      const spec = decodeSpec(value)
      if (E.isLeft(spec)) throw spec.left
      const t0 = performance.now()
      const result = await checkSpecShapes(spec.right)
      const us = Math.round((performance.now() - t0) * 1000)
      process.stdout.write(
        v.json
          ? JSON.stringify({ ...result, microseconds: us }) + '\n'
          : `apply spec '${spec.right.op}': shapes fit (${us} µs)\n${JSON.stringify({ outputs: result.outputs, params: result.params, stats: result.stats })}\n`,
      )
      return 0
    }
    if (isRecord(value) && (value.kind === 'resnet' || value.kind === 'convNet')) return checkModelSpec(value, inputShape(v.input), v.batch, v.classes, v.json)
    const { decodeTrainFile } = await import('../../../train/trainConfig.js')
    const decoded = decodeTrainFile(value)
    if (E.isLeft(decoded)) throw decoded.left
    const { checkTrainFile } = await import('../../../train/check.js')
    const report = checkTrainFile(decoded.right)
    if (v.json) process.stdout.write(JSON.stringify(report) + '\n')
    else {
      const lines = report.passes.map(
        (p) =>
          `  ${p.role}: batch ${p.batch}, ${p.mode} -> features [${p.shapes.features.join(', ')}]${p.shapes.logits ? `, logits [${p.shapes.logits.join(', ')}]` : ''}${p.shapes.projection ? `, projection [${p.shapes.projection.join(', ')}]` : ''}\n    ${p.shapes.layers.join('; ')}`,
      )
      process.stdout.write(`${report.kind} config: shapes fit in every forward pass (${report.microseconds} µs on shapes)\n${lines.join('\n')}\n`)
    }
    return 0
  },
})
