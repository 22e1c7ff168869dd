/** `polyak train`: one pipeline from a validated train file, with checkpoints and resume. @module cli/commands/train */
import { stat } from 'node:fs/promises'
import * as E from 'fp-ts/lib/Either.js'
import { specName } from '../../../norm/registry.js'
import { UsageError, checkBackendName, defineCommand } from '../args.js'
import { MAX_INPUT_FLAG, backendFlag, readJson, trainingBackend } from '../common.js'
import { backendNames } from '../../../../backends/index.js'

/** A job of a sweep runs as 'polyak train' in a child process: when its parent (the worker) dies, it stops too. */
const exitWithParent = (): void => {
  const parent = Number(process.env.POLYAK_PARENT_PID)
  if (!Number.isInteger(parent) || parent <= 0) return
  setInterval(() => {
    if (process.ppid !== parent) process.exit(1)
  }, 250).unref()
}

export const trainCommand = defineCommand({
  name: 'train',
  usage: 'polyak train CONFIG.json [--backend B] [--checkpoint FILE] [--every N] [--resume] [--on-nan stop|warn]',
  summary: 'run one pipeline from a validated config file',
  positionals: { min: 1, max: 1, name: 'CONFIG.json' },
  flags: {
    backend: backendFlag("backend (default: the config's, else the fastest available)"),
    checkpoint: { type: 'string', value: 'FILE', help: 'write a checkpoint here (atomically, fsynced)' },
    every: { type: 'int', min: 1, value: 'N', default: 100, help: 'checkpoint every N steps and at the end' },
    resume: { type: 'boolean', help: 'resume from --checkpoint; starts fresh (and says so) when there is none yet' },
    'on-nan': {
      type: 'choice',
      choices: ['stop', 'warn'],
      value: 'stop|warn',
      default: 'stop',
      help: 'on a NaN or Inf: stop (keeping the last good checkpoint) or warn and go on',
    },
    json: { type: 'boolean', help: 'print the result as one JSON line' },
    'max-input-mb': MAX_INPUT_FLAG,
  },
  run: async (v, positionals) => {
    exitWithParent()
    const configFile = positionals[0]!
    const { checkpoint, every } = v
    if (v.resume && checkpoint === undefined) throw new UsageError('--resume needs --checkpoint FILE', '--resume')
    const { decodeTrainFile } = await import('../../../train/trainConfig.js')
    const file = decodeTrainFile(await readJson(configFile, v['max-input-mb'], 'the config', `the config '${configFile}'`))
    if (E.isLeft(file)) throw file.left
    const f = file.right
    const { modelSpecOf } = await import('../../../train/semiSupervised.js')
    const requested = v.backend ?? (f.backend === undefined ? undefined : checkBackendName(f.backend, backendNames, "the config's field 'backend'"))
    // every forward pass on shapes first: a shape error costs microseconds, not a data load and a first step
    const { checkTrainFile } = await import('../../../train/check.js')
    checkTrainFile(f)

    // every output path is checked before the first step
    let resumeFrom: string | undefined
    if (checkpoint !== undefined) {
      if (f.kind !== 'semiSupervised')
        throw new UsageError(`--checkpoint: checkpoints are implemented for semiSupervised runs; a ${f.kind} run restarts`, '--checkpoint')
      const { checkCheckpointPath, removeStaleTemps } = await import('../paths.js')
      checkCheckpointPath(checkpoint, [configFile])
      const removed = removeStaleTemps(checkpoint)
      if (removed.length > 0) process.stderr.write(`removed ${removed.length} temp file(s) left by killed runs: ${removed.join(', ')}\n`)
      if (v.resume) {
        const exists = await stat(checkpoint).then(
          () => true,
          () => false,
        )
        if (exists) {
          resumeFrom = checkpoint
          process.stderr.write(`resuming from ${checkpoint}\n`)
        } else process.stderr.write(`no checkpoint at ${checkpoint} yet: starting from step 0\n`)
      }
    }

    const { fastestAvailable, unsafeUseBackend } = await import('../../../../backends/index.js')
    const backend = trainingBackend(requested ?? (await fastestAvailable()).name, 'training')
    await unsafeUseBackend(backend)
    const { loadDataset } = await import('../../datasets.js')
    const factor = 28 / f.data.resolution
    const train = loadDataset(f.data.dataset, 'train', { limit: f.data.trainImages, factor })
    // the evaluation set: the test split, or the validation images that follow the training images
    const test =
      f.data.evaluateOn === 'validation'
        ? loadDataset(f.data.dataset, 'train', { offset: f.data.trainImages, limit: f.data.testImages, factor })
        : loadDataset(f.data.dataset, 'test', { limit: f.data.testImages, factor })
    const { progressBar } = await import('../progress.js')
    const guard = { onNonFinite: v['on-nan'], onWarning: (m: string) => process.stderr.write(`\nwarning: ${m}\n`) }
    let result: unknown
    if (f.kind === 'semiSupervised') {
      const { runSemiSupervised } = await import('../../../train/semiSupervised.js')
      const { checkpointFile } = await import('../../checkpointFile.js')
      const bar = progressBar(`semi ${f.config.teacher} teacher`, f.config.steps)
      const r = await runSemiSupervised(
        f.config,
        train,
        test,
        (s, m, p) => bar.update(s, `loss ${m.loss!.toFixed(3)}${p ? ` acc ${(100 * (p.teacher ?? p.student)).toFixed(1)}` : ''}`),
        {
          ...guard,
          ...(checkpoint === undefined ? {} : { checkpoint: { store: checkpointFile(checkpoint), every } }),
          ...(resumeFrom === undefined ? {} : { resumeFrom: checkpointFile(resumeFrom) }),
        },
      )
      bar.done(`student ${(100 * r.final.student).toFixed(1)}%${r.final.teacher === undefined ? '' : `, teacher ${(100 * r.final.teacher).toFixed(1)}%`}`)
      result = { kind: f.kind, backend, model: modelSpecOf(f.config), final: r.final, curve: r.curve, seconds: r.seconds }
    } else if (f.kind === 'selfSupervised') {
      const { runSelfSupervised } = await import('../../../train/selfSupervised.js')
      const bar = progressBar(`ssl ${f.config.method}`, f.config.steps)
      const r = await runSelfSupervised(f.config, train, test, (s, m) => bar.update(s, `loss ${m.loss!.toFixed(3)}`), guard)
      bar.done(`linear probe ${(100 * r.linearProbe).toFixed(1)}%, kNN ${(100 * r.knn).toFixed(1)}%`)
      result = {
        kind: f.kind,
        backend,
        model: modelSpecOf(f.config),
        linearProbe: r.linearProbe,
        knn: r.knn,
        finalLoss: r.finalLoss,
        stepMs: r.stepMs,
        curve: r.curve,
        seconds: r.seconds,
      }
    } else {
      const { runSupervised } = await import('../../../train/supervised.js')
      const bar = progressBar(`supervised ${specName(f.config.norm)}`, Math.ceil(f.config.samples / f.config.batchSize))
      const r = await runSupervised(f.config, train, test, (s, _n, m) => bar.update(s, m ? `loss ${m.loss!.toFixed(3)}` : ''), guard)
      bar.done(`accuracy ${(100 * r.accuracy).toFixed(1)}%`)
      result = { kind: f.kind, backend, model: modelSpecOf(f.config), accuracy: r.accuracy, steps: r.steps, curve: r.curve, seconds: r.seconds }
    }
    process.stdout.write(JSON.stringify(result, null, v.json ? 0 : 2) + '\n')
    return 0
  },
})
