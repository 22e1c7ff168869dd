/**
 * The data sets a run can name (`data.dataset` of a train file): MNIST or Fashion-MNIST, both at
 * 14×14 (2×2 average pooling) in polyak's pipelines.
 *
 * @module node/datasets
 */
import type { IdxOptions, ImageSet } from '../data/images.js'
import type { DatasetName } from '../train/trainConfig.js'
import { loadFashionMnist } from './fashion.js'
import { loadMnist } from './mnist.js'

/** Reads `split` of data set `name`. */
export const loadDataset = (name: DatasetName, split: 'train' | 'test', options: IdxOptions = {}): ImageSet =>
  name === 'fashion' ? loadFashionMnist(split, options) : loadMnist(split, options)
