/**
 * The tfjs kernel names of polyak's fused kernels, one constant each: the kernels register under
 * them, `useFusedKernels` switches them by them, and profiles report them.
 *
 * @module kernels/names
 */

/** Every fused kernel's tfjs name. */
export const KERNELS = {
  /** `a·x + b·y` in one pass (`kernels/axpby`). */
  axpby: 'PolyakAxpby',
  /** `axpby` over many tensors in a few dispatches (`kernels/axpbyMany`). */
  axpbyMany: 'PolyakAxpbyMany',
  /** Per-channel `(x − μ)·s + β` (`kernels/channels`). */
  normalize: 'PolyakNormalize',
  /** The per-channel sums of the normalize gradient. */
  normalizeGradSums: 'PolyakNormalizeGradSums',
  /** Per-channel mean and biased variance in one pass. */
  moments: 'PolyakMoments',
  /** Per-filter standardisation of a weight (WeightAlign, weight standardisation). */
  standardize: 'PolyakStandardize',
  /** The transposed im2col of a convolution's filter gradient (`kernels/im2col`). */
  im2colT: 'PolyakIm2ColT',
  /** A matrix product with few rows (`kernels/matMul`). */
  matMulFewRows: 'PolyakMatMulFewRows',
  /** The ReLU gradient (`kernels/activations`). */
  reluGrad: 'PolyakReluGrad',
  /** 2×2 average pooling, stride 2. */
  avgPool2: 'PolyakAvgPool2',
  /** Its gradient. */
  avgPool2Grad: 'PolyakAvgPool2Grad',
  /** A 2-D convolution, NHWC (`kernels/conv`). */
  conv2d: 'PolyakConv2D',
  /** Its filter gradient. */
  conv2dFilterGrad: 'PolyakConv2DFilterGrad',
  /** Its input gradient (strides above 1; stride 1 runs as a forward convolution). */
  conv2dInputGrad: 'PolyakConv2DInputGrad',
} as const

/** The tfjs name of one of polyak's fused kernels. */
export type KernelName = (typeof KERNELS)[keyof typeof KERNELS]
