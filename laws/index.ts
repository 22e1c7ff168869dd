/**
 * polyak/laws: the property-based laws polyak's own tests run, packaged for users to run against
 * their own normalizers, EMA updates, teacher updates, transitions and backends.
 *
 * Two layers, as fp-ts-laws: pure predicates (`law.predicate(subject, context)(input)`) and runners
 * (`runLaws`, `assertLaws`, `runCatalogue`) that draw inputs with fast-check and report the seed and
 * the shrunk counterexample of every failure. fast-check is an optional peer dependency of polyak,
 * needed only here.
 *
 * @example
 * import { assertLaws, batchIndependence } from 'polyak/laws'
 * await assertLaws('my norm', { channels: 4, forward: (ops, x) => myNorm(ops, x) }, [batchIndependence], ops)
 *
 * @module polyak/laws
 */
// Every name is listed on purpose: what is not exported is internal and may change.

// equality with tolerances
export { type CloseOptions, firstMismatch, allClose, assertAllClose } from './eq.js'

// laws and runners
export {
  type LawTolerance,
  type LawContext,
  type Law,
  type SomeLaw,
  type RunOptions,
  type LawResult,
  type LawRunner,
  type Host,
  LawError,
  defaultTolerance,
  runLaws,
  assertLaws,
  evaluate,
  closeTo,
  exactlyEqual,
  snapshot,
  leavesInputsUntouched,
} from './law.js'

// arbitraries
export {
  type HostTensor,
  shapeArb,
  valueArb,
  logUniformArb,
  uniformArb,
  nearEpsilonDataArb,
  VALUE_DECADES,
  magnitudeArb,
  dataArb,
  spreadDataArb,
  tensorArb,
  batchShapeArb,
  decayArb,
  openDecayArb,
  arbitraryOf,
  configArb,
  broadcastShapesArb,
  rangeDataArb,
  hostTensorArb,
  broadcastPairArb,
  axesArb,
} from './arbitraries.js'

// the suites
export {
  type EmaStep,
  type EmaTransformSubject,
  emaIdentity,
  emaCopy,
  emaFixedPoint,
  emaClosedForm,
  emaConvexity,
  emaOrder,
  emaStepLaws,
  emaDebias,
  emaInputsUntouched,
} from './ema.js'
export {
  type TeacherUpdateSubject,
  type TeacherUpdateWith,
  type TeacherHostState,
  type RandomTeacherPair,
  teacherKeepAndEma,
  teacherIntegersCopied,
  teacherRejectsMismatch,
  teacherEmanDoubleEma,
  teacherLaws,
  teacherPerLeafPolicy,
  teacherInputsUntouched,
  type TeacherPresetName,
  type TeacherPreset,
  type TeacherPresetSubject,
  presetPolicy,
  teacherPresets,
  teacherPresetLaws,
  hostLeaves,
  type HostTree,
} from './teacher.js'
export {
  type BatchNormSubject,
  type BatchNormEvalCase,
  type BatchForwardSubject,
  type MomentumBnSubject,
  type WeightAlignSubject,
  type GroupNormSubject,
  type DeclaredNormalizerSubject,
  declaredStats,
  bnTrainMoments,
  bnEvalOutput,
  bnInputsUntouched,
  gnGroupMoments,
  groupNormLaws,
  mbnStoredVariance,
  waEpsilonPlacement,
  bnOneStepStats,
  bnEvalKeepsStats,
  bnPermutation,
  bnAffineInvariance,
  batchNormLaws,
  batchIndependence,
  mbnInitialStatsIrrelevant,
  mbnAlphaEndpoints,
  momentumBnLaws,
  waZeroMeanFixedNorm,
  waScaleInvariance,
  waLayout,
  waConstantFilter,
  weightAlignLaws,
  type WeightStandardizationSubject,
  wsFilterMoments,
  weightStandardizationLaws,
} from './normalizers.js'
export { type TransitionSubject, transitionPurity, transitionShapes, transitionNoLeak, transitionLaws, backendConformance, axpbyDonation } from './generic.js'

export { type ShapeInterpreterSubject, type ShapeCase, shapesAgree } from './shapes.js'
export { type LayersTeacherSubject, layersTeacherPolicy, layersTeacherLaws } from './layers.js'
export { type ScheduleSubject, scheduleRange, scheduleEndpoints, scheduleMonotone, scheduleClosedForm, scheduleLaws } from './schedules.js'
export {
  type ModelSubject,
  modelShapes,
  modelReference,
  modelBatchIndependence,
  modelParamsReachOutput,
  modelTeacherPolicy,
  modelNoLeak,
  modelLaws,
} from './models.js'

// polyak's own subjects and the catalogue
export {
  type CatalogueEntry,
  type CatalogueResult,
  polyakEmaStep,
  polyakDebiasedEma,
  polyakTeacherUpdate,
  polyakTeacherPresets,
  polyakWeightStandardizations,
  polyakBatchNorm,
  polyakMomentumBn,
  polyakWeightAlign,
  batchForwardSubjects,
  transitionSubjects,
  catalogue,
  registryEntries,
  drawnConfigEntries,
  runCatalogue,
  runEntries,
  subjectEntries,
  SUBJECT_EXPORTS,
  type SubjectExport,
  SubjectModuleError,
  type CatalogueControl,
  polyakMomentumBnPlain,
  polyakMomentumBnReference,
  polyakGroupNorms,
  polyakSchedules,
  polyakModels,
  appliesTo,
} from './subjects.js'

// the power of the laws
export { type PowerResult, type PowerOptions, EXACT_LAWS, POWER_DELTAS, lawPower } from './power.js'
