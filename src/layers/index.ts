/**
 * polyak/layers: teachers for TensorFlow.js Layers models (`tf.sequential`, `tf.model`). A
 * `LayersModel`'s weights and its BatchNormalization moving statistics are seen as polyak's
 * parameter and statistic trees, with paths from layer and weight names
 * (`conv2d_Conv2D1/kernel`, `batch_normalization_BatchNormalization1/moving_mean`), so every
 * teacher policy of `teacherUpdate` applies unchanged — EMA, EMAN, projector-only by layer-name
 * prefix, or per leaf — and the result is written back into a teacher `LayersModel`.
 *
 *     const teacher = await layersTeacher(model, { decay: 0.999, policy: 'eman' })
 *     await model.fit(xs, ys, { epochs: 5, callbacks: [teacher.callback()] })
 *     teacher.model.predict(xs)                      // inference mode: BN uses the averaged statistics (EMAN)
 *
 * `@tensorflow/tfjs-layers` is an optional peer: this entry reads models through their public
 * members (`layers`, `weights`, `read`, `write`) and imports tfjs-layers only to clone the student
 * when no teacher model is given.
 *
 * @module polyak/layers
 */
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import { InvalidArgumentError, TreeStructureError, showShape } from '../core/errors.js'
import { disposeTree } from '../core/memory.js'
import { importOptional } from '../core/optional.js'
import { tfOps } from '../core/tfOps.js'
import { type TreeRecord, leaves } from '../core/tree.js'
import { type TeacherUpdate, type TeacherUpdateConfig, projectorOnly, teacherUpdate } from '../ema/teacher.js'

/** A tfjs-layers weight, as this entry reads it (`LayerVariable`). */
export interface LayerVariableLike {
  readonly originalName: string
  /** The weight's shape (tfjs-layers types it `(number | null)[]`; a built weight has no `null`). */
  readonly shape: readonly (number | null)[]
  readonly dtype: string
  readonly trainable: boolean
  read(): tf.Tensor
  write(value: tf.Tensor): unknown
}

/** A tfjs-layers layer, as this entry reads it: its name, class, weights, and its layers when it is a model itself. */
export interface LayerLike {
  readonly name: string
  readonly weights: readonly LayerVariableLike[]
  getClassName(): string
  readonly layers?: readonly LayerLike[]
}

/** A `LayersModel` (`tf.sequential`, `tf.model`), as this entry reads it. */
export interface LayersModelLike extends LayerLike {
  readonly layers: readonly LayerLike[]
  toJSON?(unused?: unknown, returnString?: boolean): unknown
}

/** Where a weight sits in the trees: its path, its slot, and the variable. */
export interface LayersLeaf {
  readonly path: string
  readonly slot: 'params' | 'stats'
  readonly variable: LayerVariableLike
}

const BATCH_NORM = new Set(['BatchNormalization'])

/**
 * Every weight of a model with its tree path and slot, in the model's layer order: `stats` for a
 * BatchNormalization layer's moving statistics (`moving_mean`, `moving_variance`), `params` for
 * every other weight (trainable or frozen). Nested models add their name to the path.
 */
export const layersLeaves = (model: LayerLike, prefix = ''): LayersLeaf[] => {
  if (model === null || typeof model !== 'object' || !Array.isArray(model.layers)) {
    throw new InvalidArgumentError('layersLeaves: model', 'expected a tfjs-layers LayersModel (with layers and weights)')
  }
  const out: LayersLeaf[] = []
  const seen = new Set<string>()
  for (const layer of model.layers) {
    const base = `${prefix}${layer.name}`
    if (Array.isArray(layer.layers)) {
      out.push(...layersLeaves(layer, `${base}/`))
      continue
    }
    const bn = BATCH_NORM.has(layer.getClassName())
    for (const v of layer.weights) {
      const short = v.originalName.split('/').pop()!
      const path = `${base}/${short}`
      if (seen.has(path)) throw new InvalidArgumentError('layersLeaves: model', `two weights share the path '${path}' (layer '${layer.name}')`)
      seen.add(path)
      out.push({ path, slot: bn && short.startsWith('moving_') ? 'stats' : 'params', variable: v })
    }
  }
  return out
}

const setPath = (t: TreeRecord<tf.Tensor>, path: string, value: tf.Tensor): void => {
  const parts = path.split('/')
  let node = t
  for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as TreeRecord<tf.Tensor>
  node[parts[parts.length - 1]!] = value
}

type Trees = { params: TreeRecord<tf.Tensor>; stats: TreeRecord<tf.Tensor> }

/** The trees of some weights (their own tensors, borrowed). */
const treesOf = (weights: readonly LayersLeaf[]): Trees => {
  const params: TreeRecord<tf.Tensor> = {}
  const stats: TreeRecord<tf.Tensor> = {}
  for (const l of weights) setPath(l.slot === 'params' ? params : stats, l.path, l.variable.read())
  return { params, stats }
}

/** Writes trees into the weights by path, after checking that every weight gets a value of its shape. */
const writeLeaves = (targets: readonly LayersLeaf[], trees: { readonly params: TreeRecord<tf.Tensor>; readonly stats: TreeRecord<tf.Tensor> }): void => {
  const byPath = new Map<string, tf.Tensor>([...leaves<tf.Tensor>(trees.params), ...leaves<tf.Tensor>(trees.stats)])
  for (const t of targets) {
    const v = byPath.get(t.path)
    if (v === undefined) throw new TreeStructureError(t.path, `the trees have no value for the model's weight '${t.path}'`)
    if (v.shape.length !== t.variable.shape.length || v.shape.some((d, i) => d !== t.variable.shape[i])) {
      throw new TreeStructureError(t.path, `shape ${showShape(v.shape)} does not fit the weight's ${showShape(t.variable.shape as number[])}`)
    }
  }
  for (const t of targets) t.variable.write(byPath.get(t.path)!)
}

/**
 * A model's weights as polyak's trees: `params` (every weight but BatchNormalization's moving
 * statistics) and `stats` (those), with paths `layer/weight`. The leaves are the variables' own
 * tensors (borrowed: do not dispose them); read them before the model changes.
 */
export const layersTrees = (model: LayerLike): { params: TreeRecord<tf.Tensor>; stats: TreeRecord<tf.Tensor> } => treesOf(layersLeaves(model))

/**
 * Writes trees into a model's weights by path; every weight of the model must get a value of its
 * shape (an error names the first that does not, and nothing is written then).
 */
export const writeLayersTrees = (model: LayerLike, trees: { readonly params: TreeRecord<tf.Tensor>; readonly stats: TreeRecord<tf.Tensor> }): void =>
  writeLeaves(layersLeaves(model), trees)

/** Checks that two models have the same weights (paths, slots, shapes); the error names the first difference. */
const checkPair = (student: LayerLike, teacher: LayerLike): void => {
  const s = layersLeaves(student)
  const t = new Map(layersLeaves(teacher).map((l) => [l.path, l]))
  for (const l of s) {
    const m = t.get(l.path)
    if (m === undefined) {
      throw new InvalidArgumentError(
        'layersTeacher: teacher',
        `has no weight '${l.path}' of the student (the teacher must be built like the student, with the same layer names)`,
      )
    }
    if (m.variable.shape.join(',') !== l.variable.shape.join(',')) {
      throw new InvalidArgumentError(
        'layersTeacher: teacher',
        `weight '${l.path}' is ${showShape(m.variable.shape as number[])} in the teacher and ${showShape(l.variable.shape as number[])} in the student`,
      )
    }
    t.delete(l.path)
  }
  const extra = [...t.keys()][0]
  if (extra !== undefined) throw new InvalidArgumentError('layersTeacher: teacher', `has a weight '${extra}' the student lacks`)
}

/**
 * Options of `layersTeacher`: the teacher update's config (`decay`, `policy`, `others`; with
 * `policy: 'projectorOnly'`, `prefixes` are prefixes of layer names, so `'projector_'` averages the
 * layers `projector_fc1`, `projector_bn`, …), and optionally the teacher model.
 */
export type LayersTeacherConfig<M extends LayersModelLike = LayersModelLike> = Omit<TeacherUpdateConfig, 'donate'> & {
  /** The teacher model, built like the student with the same layer names (default: a clone of the student, which needs `@tensorflow/tfjs-layers`). */
  readonly teacher?: M
}

/** A teacher of a tfjs-layers model. */
export interface LayersTeacher<M extends LayersModelLike = LayersModelLike> {
  /** The teacher model: predict with it (inference mode). */
  readonly model: M
  /** The number of updates so far (the step a decay schedule reads). */
  readonly steps: () => number
  /** One teacher update from the student's current weights, at `step` (default: the update count). */
  readonly update: (step?: number) => void
  /** A tfjs-layers callback that updates the teacher after every batch: `model.fit(…, { callbacks: [teacher.callback()] })`. */
  readonly callback: () => { onBatchEnd: (batch: number, logs?: unknown) => Promise<void> }
  /** The teacher's weights as trees (borrowed, as `layersTrees`). */
  readonly trees: () => { params: TreeRecord<tf.Tensor>; stats: TreeRecord<tf.Tensor> }
}

/** A clone of a model with the same layer names and the same weights (tfjs-layers' `models.modelFromJSON`). */
export const cloneLayersModel = async <M extends LayersModelLike>(model: M): Promise<M> => {
  if (typeof model.toJSON !== 'function') throw new InvalidArgumentError('cloneLayersModel: model', 'expected a tfjs-layers LayersModel (with toJSON)')
  const layers = (await importOptional('@tensorflow/tfjs-layers', 'npm install @tensorflow/tfjs-layers')) as typeof import('@tensorflow/tfjs-layers')
  // the same class as the student's model, rebuilt from its topology
  // modelFromJSON returns a LayersModel; built from M's own topology, it is an M
  const clone = (await layers.models.modelFromJSON({ modelTopology: model.toJSON(null, false) as never })) as unknown as M
  writeLayersTrees(clone, layersTrees(model))
  return clone
}

/**
 * The teacher of a tfjs-layers `student`: each `update` reads the student's and the teacher's
 * weights as trees, applies polyak's `teacherUpdate` (every leaf by its policy:
 * `t ← d·t + (1 − d)·s` for `ema`, copy or keep otherwise; EMAN averages the moving statistics too)
 * and writes the result into the teacher model.
 *
 * @example
 * const teacher = await layersTeacher(model, { decay: 0.999, policy: 'eman' })
 * await model.fit(xs, ys, { epochs: 5, callbacks: [teacher.callback()] })
 */
export const layersTeacher = async <M extends LayersModelLike>(student: M, config: LayersTeacherConfig<M>): Promise<LayersTeacher<M>> => {
  const { teacher: given, ...rest } = config
  // projector-only momentum by layer name: a prefix of the layer's name (`projector_` matches `projector_fc1/kernel`)
  const prefixes = rest.prefixes
  const decoded =
    rest.policy === 'projectorOnly' && Array.isArray(prefixes) && prefixes.length > 0
      ? teacherUpdate(tfOps, { decay: rest.decay, policy: projectorOnly((path: string) => prefixes.some((p) => path.startsWith(p)), rest.others ?? 'copy') })
      : teacherUpdate(tfOps, { ...rest, donate: false })
  if (E.isLeft(decoded)) throw decoded.left
  checkPolicyFits(layersLeaves(student), rest)
  const teacher = given ?? (await cloneLayersModel(student))
  return layersTeacherOf(student, teacher, decoded.right)
}

/**
 * Refuses a policy that cannot do what it says on this student, before anything is built: EMAN
 * asked for by name on a model with no BatchNormalization layer (EMAN is the EMA of BN statistics;
 * `'weightsOnly'` is the plain weight EMA), projector-only prefixes that match no layer, and a
 * policy whose averaged weights are all frozen (`trainable: false`: the teacher would follow a
 * student that never moves).
 */
const checkPolicyFits = (student: readonly LayersLeaf[], config: Omit<TeacherUpdateConfig, 'donate'>): void => {
  if (config.policy === 'eman' && !student.some((l) => l.slot === 'stats')) {
    throw new InvalidArgumentError(
      'layersTeacher: policy',
      "'eman' averages BatchNormalization statistics, and the student has no BatchNormalization layer; use 'weightsOnly' for an EMA of the weights",
    )
  }
  const params = student.filter((l) => l.slot === 'params')
  let averaged: readonly LayersLeaf[]
  if (config.policy === 'projectorOnly') {
    const prefixes = config.prefixes ?? []
    averaged = params.filter((l) => prefixes.some((p) => l.path.startsWith(p)))
    if (averaged.length === 0 && !student.some((l) => prefixes.some((p) => l.path.startsWith(p)))) {
      const names = [...new Set(student.map((l) => l.path.split('/')[0]!))].slice(0, 8)
      throw new InvalidArgumentError(
        'layersTeacher: prefixes',
        `${JSON.stringify(prefixes)} match no layer of the student (its layers: ${names.join(', ')}${names.length === 8 ? ', …' : ''}); a prefix is the start of a layer name`,
      )
    }
  } else if (typeof config.policy === 'function') {
    const policy = config.policy
    averaged = params.filter((l) => policy('params', l.path) === 'ema')
  } else {
    averaged = params
  }
  if (averaged.length > 0 && averaged.every((l) => !l.variable.trainable)) {
    throw new InvalidArgumentError(
      'layersTeacher: student',
      `every weight the policy averages is frozen (trainable: false; ${averaged.length} weights, e.g. '${averaged[0]!.path}'): the teacher would follow a student that never moves; ` +
        'unfreeze the student (model.trainable = true) or average trainable layers',
    )
  }
}

/** `layersTeacher` with a built update and a teacher model (synchronous: no clone). */
export const layersTeacherOf = <M extends LayersModelLike>(student: LayerLike, teacher: M, update: TeacherUpdate): LayersTeacher<M> => {
  checkPair(student, teacher)
  // the models' weights are fixed once built: walk them once, not at every batch
  const studentWeights = layersLeaves(student)
  const teacherWeights = layersLeaves(teacher)
  let count = 0
  const step = (at = count): void => {
    const next = tfOps.tidy(() => update(treesOf(studentWeights), at)(treesOf(teacherWeights))[1] as Trees)
    try {
      writeLeaves(teacherWeights, next)
    } finally {
      // the variables now share the new values' storage; these handles go
      disposeTree(tfOps, next)
    }
    count += 1
  }
  return {
    model: teacher,
    steps: () => count,
    update: step,
    callback: () => ({ onBatchEnd: async () => step() }),
    trees: () => treesOf(teacherWeights),
  }
}
