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
 * @module laws
 */
export * from './eq.js'
export * from './law.js'
export * from './arbitraries.js'
export * from './ema.js'
export * from './teacher.js'
export * from './normalizers.js'
export * from './generic.js'
export * from './subjects.js'
