/** The small MNIST sets the pipeline tests train on: 400 training and 40 test images at 14×14. */
import type { ImageSet } from 'polyak'
import { loadMnist } from 'polyak/node'

/** `{train, test}`: the first 400 training and 40 test images of MNIST, 2×2-pooled to 14×14. */
export const tinyMnist = (): { train: ImageSet; test: ImageSet } => ({
  train: loadMnist('train', { limit: 400, factor: 2 }),
  test: loadMnist('test', { limit: 40, factor: 2 }),
})

/** The semi-supervised settings every tiny run shares: batches of 8, 5 % labels, widths [4, 8], 40 test images. */
const TINY_SEMI_BASE = { labelledFraction: 0.05, batchLabelled: 8, batchUnlabelled: 8, widths: [4, 8], evalLimit: 40 }

/** The overrides of a six-step EMAN FixMatch run on `tinyMnist` (spread over `SEMI_DEFAULTS`): what the checkpoint tests train. */
export const TINY_SEMI = { ...TINY_SEMI_BASE, teacher: 'eman' as const, steps: 6, evalEvery: 0 }

/** A `polyak train` file of a tiny semi-supervised run on wasm with `tinyMnist`'s budget (400 / 40 images); `config` adds and overrides. */
export const tinySemiFile = (config: Record<string, unknown>) => ({
  kind: 'semiSupervised',
  backend: 'wasm',
  data: { trainImages: 400, testImages: 40 },
  config: { ...TINY_SEMI_BASE, ...config },
})
