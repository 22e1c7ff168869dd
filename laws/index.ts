/**
 * polyak/laws: what polyak's own tests check, packaged for users to run against their own
 * normalizers, EMA updates and backends.
 *
 * @module laws
 */
export * from './eq.js'
