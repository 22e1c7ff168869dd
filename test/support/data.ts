/** The small MNIST sets the pipeline tests train on: 400 training and 40 test images at 14×14. */
import type { ImageSet } from 'polyak'
import { loadMnist } from 'polyak/node'

/** `{train, test}`: the first 400 training and 40 test images of MNIST, 2×2-pooled to 14×14. */
export const tinyMnist = (): { train: ImageSet; test: ImageSet } => ({
  train: loadMnist('train', { limit: 400, factor: 2 }),
  test: loadMnist('test', { limit: 40, factor: 2 }),
})

/** The overrides of a six-step EMAN FixMatch run on `tinyMnist` (spread over `SEMI_DEFAULTS`): what the checkpoint tests train. */
export const TINY_SEMI = {
  teacher: 'eman' as const,
  labelledFraction: 0.05,
  steps: 6,
  batchLabelled: 8,
  batchUnlabelled: 8,
  widths: [4, 8],
  evalEvery: 0,
  evalLimit: 40,
}
