/**
 * polyak: normalizers and moving-average teachers of self- and semi-supervised learning as pure
 * state transitions on TensorFlow.js.
 *
 * This entry reaches no Node builtin: it runs in a browser as it does in Node. It holds the tensor
 * DSL and its interpreters, transitions, the methods (EMA, teachers, normalizers), models,
 * optimizers, in-memory data and the training pipelines. Backends live in `polyak/backends`, laws
 * in `polyak/laws`, and what needs files or processes (MNIST from disk, checkpoint files, the
 * report writer) in `polyak/node`.
 *
 * Every name is listed here on purpose: what is not exported is internal and may change.
 *
 * @module polyak
 */

export { VERSION } from './version.js'

// errors
export {
  type PolyakErrorCode,
  PolyakError,
  TreeStructureError,
  ShapeMismatchError,
  DtypeMismatchError,
  DisposedTensorError,
  InvalidArgumentError,
  UnknownBackendError,
  BackendUnavailableError,
  MissingPackageError,
  NonFiniteError,
  showShape,
  showPath,
} from './core/errors.js'

// trees
export * as tree from './core/tree.js'
export type { Leaf, Tree, MapLeaves, PathPredicate, ZipOptions } from './core/tree.js'
export { underPrefix } from './core/tree.js'

// the DSL and its interpreters
export type { DType, VarianceEstimator, Padding, PoolKind, TensorData, AxpbyOptions, Moments, MomentsOptions, Ops, TensorOf } from './core/ops.js'
// for interpreters written outside polyak: the primitives that have a composed definition
export { composedAxpbyMany, composedStandardize } from './core/ops.js'
export { tfOps, type Tensor } from './core/tfOps.js'
export { referenceOps, RefTensor, referenceMemory } from './core/referenceOps.js'
export { cloneTree, disposeTree, type Owned } from './core/memory.js'
export { type Tolerance, FLOAT32_UNIT_ROUNDOFF, TOLERANCES, toleranceOf } from './core/tolerance.js'

// transitions and drivers
export {
  type Slots,
  type EmptySlot,
  type Transition,
  type ReportOf,
  type AnyTransition,
  type NamedSlots,
  type NamedReports,
  slots,
  transition,
  sequence,
  named,
  masked,
} from './core/transition.js'
export { type DriverOptions, type DriverResult, run, scan } from './core/driver.js'

// fused kernels (the composed tfjs path is the fallback)
export { useFusedKernels } from './kernels/registry.js'
export { KERNELS, type KernelName } from './kernels/names.js'
export { avgPool2x2 } from './kernels/activations.js'

// configs and JSON input
export { type JsonLimits, DEFAULT_JSON_LIMITS, JsonInputError, parseJsonInput, checkJsonValue } from './codecs/jsonInput.js'
export {
  Decay,
  DecaySpec,
  DECAY_EXPECTED,
  Epsilon,
  PositiveInt,
  NonNegativeInt,
  PositiveFinite,
  type ConfigIssue,
  type DecayBrand,
  type EpsilonBrand,
  type PositiveIntBrand,
  type NonNegativeIntBrand,
  type PositiveFiniteBrand,
  type Fields,
  type Decoded,
  ConfigError,
  decodeConfig,
  unsafe,
} from './codecs/config.js'

// moving averages
export {
  type Schedule,
  type WarmupOptions,
  fromTorchMomentum,
  toTorchMomentum,
  constant,
  cosineToOne,
  momentumBnAlpha,
  warmup,
  decayAt,
} from './ema/schedules.js'
export { type EmaStats, type EmaConfig, type Ema, type NoParams, MAX_COUNT, emaLeaf, emaLeaves, ema, unsafeEma } from './ema/ema.js'
export {
  type LeafPolicy,
  type SlotName,
  type TeacherPolicy,
  type TeacherUpdate,
  type TeacherUpdateConfig,
  type TeacherUpdateReport,
  type TeacherPolicyName,
  teacherUpdateFields,
  emanPolicy,
  weightsOnly,
  paramsEmaStatsCopy,
  projectorOnly,
  teacherUpdate,
  unsafeTeacherUpdate,
  initTeacher,
} from './ema/teacher.js'

// the shape-only interpreter
export { ShapeTensor, shapeOps, placeholder, abstractTree } from './core/shapeOps.js'

// normalizers
export {
  type NormalizerCapabilities,
  type ModelContext,
  type NormalizerDefinition,
  type WeightNormalizerDefinition,
  type AnyDefinition,
} from './norm/definition.js'
export {
  type NormSpec,
  registerNormalizer,
  unregisterNormalizer,
  normalizerDefinitions,
  normalizerDefinition,
  activationNormalizer,
  weightNormalizer,
  checkSpec,
  normSpecCodec,
  specName,
  specConfig,
} from './norm/registry.js'
export { registryMarkdown, configSummary } from './norm/registryTable.js'
export { type Mode, type ApplyContext, type Normalizer, type AffineParams, affineNormalize } from './norm/normalizer.js'
export {
  type BatchNormStats,
  type BatchNormParams,
  type BatchNormConfig,
  type BatchNormSettings,
  initBatchNormState,
  batchNormEval,
  batchNorm,
  unsafeBatchNorm,
} from './norm/batchNorm.js'
export { eman, unsafeEman, emanUpdate, unsafeEmanUpdate } from './norm/eman.js'
export { type MomentumBatchNormConfig, type VarianceCorrection, momentumBatchNorm, unsafeMomentumBatchNorm } from './norm/momentumBatchNorm.js'
export {
  type NoStats,
  type GroupNormConfig,
  groupNorm,
  unsafeGroupNorm,
  layerNorm,
  unsafeLayerNorm,
  instanceNorm,
  unsafeInstanceNorm,
} from './norm/groupNorm.js'
export { type WeightLayout } from './norm/weightLayout.js'
export {
  type EpsilonPlacement,
  type WeightStandardizationConfig,
  type StandardizedWeightParams,
  type WeightNormalizer,
  WS_TIMM,
  WS_REFERENCE_PYTORCH,
  WS_REFERENCE_TF,
  weightStandardization,
  unsafeWeightStandardization,
} from './norm/weightStandardization.js'
export { type WeightAlignParams, type WeightAlignConfig, weightAlign, unsafeWeightAlign } from './norm/weightAlign.js'

// models and optimizers
export {
  type Shape,
  type Initializer,
  type Env,
  type LayerInfo,
  type LayerRow,
  type Built,
  type Module,
  type ConvOptions,
  type DenseOptions,
  type ResidualOptions,
  atPath,
  heNormal,
  layerTable,
  conv,
  dense,
  norm,
  relu,
  identity,
  maxPool,
  avgPool,
  globalAvgPool,
  flatten,
  sequential,
  residual,
} from './nn/module.js'
export {
  type HeadConfig,
  type HeadName,
  type ConvNetConfig,
  type NetworkConfig,
  type Layer,
  type ForwardOutput,
  type ForwardOutputOf,
  type ForwardContext,
  type ForwardContextOf,
  type ModelOn,
  type Model,
  type ShapeReport,
  network,
  convNet,
  convNetBackbone,
} from './nn/model.js'
export { type ResNetBlock, type ResNetConfig, resnet, resnetBackbone, resnetBlock, resnetLayout } from './nn/resnet.js'
export {
  type JsonModelSpec,
  type ModuleSpec,
  type ModelSpec,
  type ModelSetting,
  backboneOf,
  buildModel,
  modelIdentity,
  decodeModelSpec,
  ModelSpecC,
} from './nn/spec.js'
export { registerGradients } from './nn/gradients.js'
export { type LearningRate, type OptState, type Optimizer, sgd, lars, adam, warmupCosine } from './optim/optimizers.js'

// data in memory
export {
  type ImageSet,
  type IdxOptions,
  type ArraySource,
  DataFileError,
  MNIST_NORMALIZATION,
  parseIdxImages,
  parseIdxLabels,
  fromIdx,
  fromArrays,
} from './data/images.js'
export { type Augmentation, WEAK, NONE, strong, makeBatch, batchStream, labelledSplit } from './data/augment.js'
export type { Rng } from './nn/random.js'

// training pipelines
export { type TrainState, type Metrics, type LossOutput, valueAndGrads, disposeAll, stopGradient } from './train/common.js'
export { crossEntropy, maskedCrossEntropy, l2Normalize, byolLoss, ntXent, infoNce } from './train/losses.js'
export { accuracy, features, knnAccuracy } from './train/evaluation.js'
export { linearProbe } from './train/probe.js'
export {
  type SemiTeacher,
  type SemiSupervisedConfig,
  type EvalPoint,
  type SemiSupervisedResult,
  type RunControl,
  type SemiSupervisedSetup,
  type SemiBatch,
  SEMI_DEFAULTS,
  semiSupervisedSetup,
  initSemiSupervised,
  semiSupervisedStep,
  runSemiSupervised,
} from './train/semiSupervised.js'
export {
  type SelfSupervisedMethod,
  type SelfSupervisedConfig,
  type SelfSupervisedResult,
  type SelfSupervisedSetup,
  type SelfSupervisedState,
  SELF_DEFAULTS,
  selfSupervisedSetup,
  initSelfSupervised,
  selfSupervisedStep,
  runSelfSupervised,
} from './train/selfSupervised.js'
export {
  type SupervisedConfig,
  type SupervisedControl,
  type SupervisedResult,
  type SupervisedSetup,
  supervisedSetup,
  initSupervised,
  supervisedStep,
  runSupervised,
} from './train/supervised.js'
export { type NonFinitePolicy, type GuardControl, firstNonFiniteLeaf } from './train/guard.js'
export {
  type CheckpointStore,
  type CheckpointIdentity,
  CheckpointError,
  memoryStore,
  encodeCheckpoint,
  decodeCheckpoint,
  saveCheckpoint,
  loadCheckpoint,
} from './train/checkpoint.js'
