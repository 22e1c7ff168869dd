/**
 * The shape check of a train file: every forward pass a step makes, run on the shape interpreter
 * (`shapeOps`) with the batch sizes and modes of the run, before any data is loaded or any real
 * tensor exists. What a real step would raise (a group count that does not divide a stage's
 * channels, BatchNorm on one value per channel, a head that does not fit) is raised here, naming
 * the layer.
 *
 * @module train/check
 */
import type { ShapeReport } from '../nn/model.js'
import type { ModelPass } from './common.js'
import { selfSupervisedModels } from './selfSupervised.js'
import { semiSupervisedModels } from './semiSupervised.js'
import { supervisedModels } from './supervised.js'
import type { TrainFile } from './trainConfig.js'

/** The per-image input shape a train file's data gives its model: `[r, r, 1]` for its `resolution` r. */
export const inputShapeOf = (file: TrainFile): readonly [number, number, number] => [file.data.resolution, file.data.resolution, 1]

/** One forward pass, checked. */
export interface PassCheck {
  readonly role: string
  readonly batch: number
  readonly mode: ModelPass['mode']
  readonly shapes: ShapeReport
}

/** What `checkTrainFile` found: each pass's shapes, and how long the whole check took. */
export interface TrainCheck {
  readonly kind: TrainFile['kind']
  readonly passes: readonly PassCheck[]
  readonly microseconds: number
}

/** The forward passes a run of `file` makes. */
export const passesOf = (file: TrainFile, inputShape = inputShapeOf(file)): readonly ModelPass[] =>
  file.kind === 'semiSupervised'
    ? semiSupervisedModels(file.config, inputShape).passes
    : file.kind === 'selfSupervised'
      ? selfSupervisedModels(file.config, inputShape).passes
      : supervisedModels(file.config, inputShape).passes

/**
 * Runs every forward pass of `file`'s pipeline on shapes. Throws the error the first real step
 * would throw (a `PolyakError` whose message starts with the layer, e.g. `stage3/norm: …`).
 */
export const checkTrainFile = (file: TrainFile, inputShape = inputShapeOf(file)): TrainCheck => {
  const t0 = performance.now()
  const passes = passesOf(file, inputShape).map((p) => ({
    role: p.role,
    batch: p.batch,
    mode: p.mode,
    shapes: p.model.checkShapes(p.batch, p.mode, p.context),
  }))
  return { kind: file.kind, passes, microseconds: Math.round((performance.now() - t0) * 1000) }
}
