/**
 * The ResNet family (He et al. 2016) on the module layer, with a normalizer slot in every block:
 *
 * - **CIFAR style**: a 3×3 stem of `width` channels (no pooling), three stages of widths
 *   `w, 2w, 4w`, the first block of stages 2 and 3 with stride 2; BasicBlocks for depths `6n + 2`
 *   (8, 14, 20, 32, 44, 56, 110) or Bottlenecks for depths `9n + 2` (11, 20, 29, 56, …).
 * - **ImageNet style**: a 7×7/2 stem and a 3×3/2 max pool, four stages of widths
 *   `w, 2w, 4w, 8w` (`w = 64`), depths 18 and 34 (BasicBlock) and 50, 101, 152 (Bottleneck).
 *
 * Blocks (stride on the 3×3 convolution, as torchvision's v1.5):
 *
 *     BasicBlock(c, s):  y = relu(norm2(conv2(relu(norm1(conv1₃ₓ₃/ₛ(x))))) + shortcut(x))
 *     Bottleneck(c, s):  y = relu(norm3(conv3₁ₓ₁(relu(norm2(conv2₃ₓ₃/ₛ(relu(norm1(conv1₁ₓ₁(x))))))) ) + shortcut(x)),  4c out
 *
 * The shortcut is the identity where the shape is kept, else a projection `norm(conv₁ₓ₁/ₛ(x))`
 * (option B). Paths: `stem/conv`, `stem/norm`, `layer{k}/{i}/conv1`, `layer{k}/{i}/shortcut/conv`.
 * Convolutions pad `'same'` (TensorFlow's rule: a stride-2 layer on an even size pads one pixel
 * after, where PyTorch pads one before and after; parameter counts and shapes agree).
 *
 * @module nn/resnet
 */
import { InvalidArgumentError } from '../core/errors.js'
import { type Model, type NetworkConfig, network } from './model.js'
import { type Module, conv, globalAvgPool, maxPool, norm, relu, residual, sequential } from './module.js'

/** Which block a ResNet stacks. */
export type ResNetBlock = 'basic' | 'bottleneck'

/** Configuration of a `resnet`: the layout, and a `network`'s input, normalizers and heads. */
export interface ResNetConfig extends Omit<NetworkConfig, 'backbone' | 'initLabel'> {
  /** Number of weighted layers: CIFAR style `6n + 2` (basic) or `9n + 2` (bottleneck); ImageNet style 18, 34, 50, 101, 152. */
  readonly depth: number
  /** `'cifar'` (default) or `'imagenet'`. */
  readonly style?: 'cifar' | 'imagenet'
  /** Channels of the stem and the first stage (default 16 for CIFAR style, 64 for ImageNet style): the width multiplier. */
  readonly width?: number
  /** The block (CIFAR style, default `'basic'`; ImageNet style follows the depth). */
  readonly block?: ResNetBlock
}

const IMAGENET: Readonly<Record<number, { readonly blocks: readonly number[]; readonly block: ResNetBlock }>> = {
  18: { blocks: [2, 2, 2, 2], block: 'basic' },
  34: { blocks: [3, 4, 6, 3], block: 'basic' },
  50: { blocks: [3, 4, 6, 3], block: 'bottleneck' },
  101: { blocks: [3, 4, 23, 3], block: 'bottleneck' },
  152: { blocks: [3, 8, 36, 3], block: 'bottleneck' },
}

const EXPANSION: Record<ResNetBlock, number> = { basic: 1, bottleneck: 4 }

/** A BasicBlock or Bottleneck of `channels` (out: `channels·expansion`) from `inChannels`, with stride `stride` (module doc). */
export const resnetBlock = (block: ResNetBlock, inChannels: number, channels: number, stride: number): Module => {
  const out = channels * EXPANSION[block]
  const main: Record<string, Module> =
    block === 'basic'
      ? { conv1: conv(channels, { stride }), norm1: norm(), relu1: relu(), conv2: conv(channels), norm2: norm() }
      : {
          conv1: conv(channels, { kernel: 1 }),
          norm1: norm(),
          relu1: relu(),
          conv2: conv(channels, { stride }),
          norm2: norm(),
          relu2: relu(),
          conv3: conv(out, { kernel: 1 }),
          norm3: norm(),
        }
  const shortcut = stride !== 1 || inChannels !== out ? sequential({ conv: conv(out, { kernel: 1, stride }), norm: norm() }) : undefined
  return residual(main, { ...(shortcut === undefined ? {} : { shortcut }), after: relu() })
}

/** The stages, block counts and block of a config; an unsupported depth is an error naming the ones that work. */
export const resnetLayout = (config: Pick<ResNetConfig, 'depth' | 'style' | 'block' | 'width'>) => {
  const style = config.style ?? 'cifar'
  if (style !== 'cifar' && style !== 'imagenet') throw new InvalidArgumentError('resnet: style', `expected 'cifar' or 'imagenet', got '${String(style)}'`)
  const width = config.width ?? (style === 'cifar' ? 16 : 64)
  if (!Number.isInteger(width) || width < 1) throw new InvalidArgumentError('resnet: width', `must be an integer ≥ 1, got ${width}`)
  if (style === 'imagenet') {
    const found = IMAGENET[config.depth]
    if (found === undefined) throw new InvalidArgumentError('resnet: depth', `ImageNet-style depths are 18, 34, 50, 101 and 152, got ${config.depth}`)
    if (config.block !== undefined && config.block !== found.block) {
      throw new InvalidArgumentError('resnet: block', `ResNet-${config.depth} uses the ${found.block} block; leave block out`)
    }
    return { style, width, block: found.block, blocks: found.blocks, widths: found.blocks.map((_, i) => width * 2 ** i) }
  }
  const block = config.block ?? 'basic'
  if (block !== 'basic' && block !== 'bottleneck') throw new InvalidArgumentError('resnet: block', `expected 'basic' or 'bottleneck', got '${String(block)}'`)
  const per = block === 'basic' ? 6 : 9
  const n = (config.depth - 2) / per
  if (!Number.isInteger(n) || n < 1) {
    throw new InvalidArgumentError(
      'resnet: depth',
      `CIFAR-style ${block} ResNets have depth ${per}n + 2 (${[1, 2, 3, 5, 9].map((k) => per * k + 2).join(', ')}, …), got ${config.depth}`,
    )
  }
  return { style, width, block, blocks: [n, n, n], widths: [width, 2 * width, 4 * width] }
}

/** The backbone of a `resnet`: stem, stages `layer1…`, global average pooling (`[H, W, C] → [F]`). */
export const resnetBackbone = (config: Pick<ResNetConfig, 'depth' | 'style' | 'block' | 'width' | 'inputShape'>): Module => {
  const { style, width, block, blocks, widths } = resnetLayout(config)
  const stem =
    style === 'cifar'
      ? sequential({ conv: conv(width), norm: norm(), relu: relu() })
      : sequential({ conv: conv(width, { kernel: 7, stride: 2 }), norm: norm(), relu: relu(), pool: maxPool(3, { stride: 2, padding: 'same' }) })
  const stages: Record<string, Module> = {}
  let inChannels = width
  blocks.forEach((count, k) => {
    const children: Module[] = []
    for (let i = 0; i < count; i++) {
      const stride = i === 0 && k > 0 ? 2 : 1
      children.push(resnetBlock(block, inChannels, widths[k]!, stride))
      inChannels = widths[k]! * EXPANSION[block]
    }
    stages[`layer${k + 1}`] = sequential(children)
  })
  return sequential({ stem, ...stages, pool: globalAvgPool() })
}

/**
 * A ResNet with a normalizer slot (see the module doc), as a `Model` with the pipelines' heads.
 *
 * @example
 * const model = resnet({ inputShape: [32, 32, 3], depth: 20, norm: 'batchNorm', classes: 10 })   // CIFAR ResNet-20
 * const r50 = resnet({ inputShape: [224, 224, 3], depth: 50, style: 'imagenet', norm: 'groupNorm', weightNorm: 'weightAlign' })
 * r50.checkShapes(8).features                                                                      // [8, 2048]
 */
export const resnet = (config: ResNetConfig): Model<ResNetConfig> =>
  network<ResNetConfig>({ ...config, backbone: resnetBackbone(config), initLabel: 'resnet.init' }, config, (spec) => resnet({ ...config, norm: spec }))
