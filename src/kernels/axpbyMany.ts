/**
 * The multi-tensor `axpby` kernel, `out_i = α·x_i + β·y_i` for many pairs in few dispatches,
 * registered on webgpu under the kernel name `PolyakAxpbyMany`; `tfOps.axpbyMany` uses it when the
 * active backend has it (float32 pairs of equal shapes) and runs one `axpby` per pair otherwise.
 * It is what a teacher update over a whole model costs on a GPU: a ResNet-18 has 62 parameter
 * tensors, and one dispatch each is 62 rounds of tfjs's per-program work (a shader key, a uniform
 * buffer, a bind group) for a few microseconds of memory traffic each.
 *
 * **Grouping.** One dispatch binds as many pairs as the device's `maxStorageBuffersPerShaderStage`
 * allows (3 buffers a pair, or 2 when `x_i` is donated and updated in place): 5 or 8 pairs at the
 * limit of 16 that polyak's webgpu backend asks for, 2 or 4 at WebGPU's default of 8. Pairs are
 * grouped by element type (`vec4<f32>` when the size is a multiple of 4, `f32` otherwise) and by
 * whether they are updated in place, so each group is one pipeline. Within a dispatch, workgroup
 * `g` finds its pair in a table of first workgroups (a uniform block) and does 256 elements of it.
 *
 * **Donation.** With `inPlace`, a pair's result is written into `x_i`'s buffer when no other
 * tensor shares that storage and it appears nowhere else in the call (`x_j`, `y_j`); the CPU copy
 * tfjs caches after a read is dropped, so later reads see the new values.
 *
 * The arithmetic is the single-pair kernel's: `fround(α)·x + fround(β)·y` in float32.
 *
 * @module kernels/axpbyMany
 */
import * as tf from '@tensorflow/tfjs-core'
import { KERNELS } from './names.js'
import { type KernelImpl, defineKernel } from './registry.js'
import { type Dispatch, type WebGpuInternals, pipelineFor, recordDispatches, storageOf, webgpuInternals, workgroupGrid } from './webgpuDispatch.js'

/** The kernel's name in the tfjs registry. */
export const AXPBY_MANY = KERNELS.axpbyMany

interface AxpbyManyAttrs {
  readonly alpha: number
  readonly beta: number
  /** Number of pairs: the inputs are `x0 … x{n−1}`, `y0 … y{n−1}`. */
  readonly n: number
  /** Write each result into its `x`'s storage where nothing else shares it (buffer donation). */
  readonly inPlace?: boolean
}

/** Invocations per workgroup; each does one element (one `vec4` in the vectorised groups). */
const WORKGROUP = 256
/** Elements (or vec4s) each invocation does, 256 apart, so that a workgroup covers a contiguous span. */
const PER_INVOCATION = 4
/** The most pairs one shader binds, whatever the device allows (the size of its pair table). */
const MAX_PAIRS = 16

interface Pair {
  readonly index: number
  readonly x: tf.TensorInfo
  readonly y: tf.TensorInfo
  /** Elements of the binding type (vec4s when `vec4`). */
  readonly length: number
  readonly vec4: boolean
  readonly inPlace: boolean
}

/**
 * WGSL for `pairs` pairs of one kind: bindings `out_i` (or the in-place `x_i`), `x_i`, `y_i` per pair,
 * then the uniforms, whose layout follows tfjs's `makeUniforms`: `pairs[i] = (first workgroup of
 * pair i, its length)`. The element index comes from `global_invocation_id`: lavapipe turns that
 * into contiguous loads, and from `local_invocation_index` the kernel ran 40 % slower; u32
 * arithmetic wraps, so the difference comes out right.
 */
const shader = (pairs: number, vec4: boolean, inPlace: boolean): string => {
  const names = inPlace ? ['x', 'y'] : ['out', 'x', 'y']
  const decl = Array.from({ length: pairs }, (_, i) =>
    names
      .map((n, j) => `@group(0)@binding(${i * names.length + j})var<storage,${j === 0 ? 'read_write' : 'read'}>${n}${i}:array<${vec4 ? 'vec4<f32>' : 'f32'}>;`)
      .join(''),
  )
  const cases = Array.from({ length: pairs }, (_, i) => `case ${i}u:{${names[0]}${i}[e]=p.alpha*x${i}[e]+p.beta*y${i}[e];}`)
  const [W, R] = [WORKGROUP, PER_INVOCATION]
  return `struct Params{alpha:f32,beta:f32,gridX:u32,unused:u32,pairs:array<vec4<u32>,${pairs}>};
${decl.join('\n')}
@group(0)@binding(${pairs * names.length})var<uniform>p:Params;
@compute @workgroup_size(${W})
fn main(@builtin(workgroup_id)wg:vec3<u32>,@builtin(global_invocation_id)gid:vec3<u32>){
let g=wg.x+wg.y*p.gridX;
var k=0u;
for(var j=1u;j<${pairs}u;j++){if(g>=p.pairs[j].x){k=j;}}
let base=gid.x+(wg.x*${R - 1}u+(wg.y*p.gridX-p.pairs[k].x)*${R}u)*${W}u;
for(var r=0u;r<${R}u;r++){
let e=base+r*${W}u;
if(e>=p.pairs[k].y){return;}
switch k{${cases.join('')}default:{}}
}
}`
}

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1)

/** The pairs whose `x` may take the result: donated, unshared storage that no other operand of the call uses. */
const inPlaceSet = (b: WebGpuInternals, xs: readonly tf.TensorInfo[], ys: readonly tf.TensorInfo[]): Set<unknown> => {
  const uses = new Map<unknown, number>()
  for (const t of [...xs, ...ys]) uses.set(t.dataId, (uses.get(t.dataId) ?? 0) + 1)
  return new Set(xs.filter((x) => uses.get(x.dataId) === 1 && b.refCount(x.dataId) === 1).map((x) => x.dataId))
}

const webgpuKernel: KernelImpl<'webgpu', string, AxpbyManyAttrs> = ({ inputs, backend, attrs }) => {
  const b = webgpuInternals(backend)!
  const { alpha, beta, n } = attrs
  const xs = Array.from({ length: n }, (_, i) => inputs[`x${i}`]!)
  const ys = Array.from({ length: n }, (_, i) => inputs[`y${i}`]!)
  const donated = attrs.inPlace === true ? inPlaceSet(b, xs, ys) : new Set<unknown>()
  const outputs: tf.TensorInfo[] = new Array<tf.TensorInfo>(n)
  const kinds = new Map<string, Pair[]>()
  xs.forEach((x, index) => {
    const size = sizeOf(x.shape)
    if (size === 0) {
      outputs[index] = b.makeTensorInfo([...x.shape], 'float32', new Float32Array(0))
      return
    }
    const vec4 = size % 4 === 0
    const pair: Pair = { index, x, y: ys[index]!, length: vec4 ? size / 4 : size, vec4, inPlace: donated.has(x.dataId) }
    const kind = `${pair.vec4 ? 'v' : 's'}${pair.inPlace ? 'i' : 'o'}`
    const same = kinds.get(kind)
    if (same === undefined) kinds.set(kind, [pair])
    else same.push(pair)
  })
  const dispatches: Dispatch[] = []
  const touched: tf.TensorInfo[] = []
  const storageLimit = b.device.limits.maxStorageBuffersPerShaderStage
  for (const pairs of kinds.values()) {
    const { vec4, inPlace } = pairs[0]!
    const capacity = Math.min(MAX_PAIRS, Math.floor(storageLimit / (inPlace ? 2 : 3)))
    for (let start = 0; start < pairs.length; start += capacity) {
      const group = pairs.slice(start, start + capacity)
      const buffers: unknown[] = []
      const table: Array<{ type: 'uint32'; data: number[] }> = []
      let groups = 0
      for (const pr of group) {
        let out: tf.TensorInfo
        if (pr.inPlace) {
          b.incRef(pr.x.dataId)
          out = { dataId: pr.x.dataId, shape: [...pr.x.shape], dtype: 'float32' }
        } else {
          out = b.makeTensorInfo([...pr.x.shape], 'float32')
          buffers.push({ buffer: storageOf(b, out) })
        }
        buffers.push({ buffer: storageOf(b, pr.x) }, { buffer: storageOf(b, pr.y) })
        if (pr.inPlace) b.tensorMap.get(pr.x.dataId)!.values = null // a CPU copy cached by an earlier read goes stale
        outputs[pr.index] = out
        touched.push(out, pr.x, pr.y)
        table.push({ type: 'uint32', data: [groups, pr.length, 0, 0] })
        groups += Math.ceil(pr.length / (WORKGROUP * PER_INVOCATION))
      }
      const grid = workgroupGrid(b, groups)
      const uniforms = b.makeUniforms([
        { type: 'float32', data: [alpha] },
        { type: 'float32', data: [beta] },
        { type: 'uint32', data: [grid[0]] },
        { type: 'uint32', data: [0] },
        ...table,
      ])
      const key = `polyak_axpby_many_${group.length}_${vec4 ? 'v' : 's'}${inPlace ? 'i' : 'o'}`
      dispatches.push({ pipeline: pipelineFor(b, key, () => shader(group.length, vec4, inPlace)), bindings: [...buffers, uniforms], workgroups: grid })
    }
  }
  recordDispatches(b, AXPBY_MANY, dispatches, touched)
  return outputs
}

const axpbyManyKernel = defineKernel<string, AxpbyManyAttrs>({
  name: AXPBY_MANY,
  backends: {
    // only where the backend object has the members polyak's own dispatches need
    webgpu: () => (webgpuInternals(tf.findBackend('webgpu')) !== undefined ? webgpuKernel : undefined),
  },
  gradient: {
    gradFunc: (dy, _saved, attrs) => {
      const dys = Array.isArray(dy) ? dy : [dy] // one output arrives as a tensor, several as an array
      const grads: Record<string, () => tf.Tensor> = {}
      for (let i = 0; i < attrs.n; i++) {
        grads[`x${i}`] = () => tf.mul(dys[i]!, tf.scalar(attrs.alpha))
        grads[`y${i}`] = () => tf.mul(dys[i]!, tf.scalar(attrs.beta))
      }
      return grads
    },
  },
})

/** True when `axpbyMany` of these pairs can run as the multi-tensor kernel on the active backend (float32 pairs of equal shapes). */
export const canFuseAxpbyMany = (xs: readonly tf.Tensor[], ys: readonly tf.Tensor[]): boolean =>
  xs.length > 0 &&
  xs.every((x, i) => {
    const y = ys[i]!
    return x.dtype === 'float32' && y.dtype === 'float32' && x.shape.length === y.shape.length && x.shape.every((d, j) => d === y.shape[j])
  }) &&
  axpbyManyKernel.available()

/** Runs the multi-tensor kernel; with `donate`, each `x_i` whose storage nothing else shares takes its result. */
export const fusedAxpbyMany = (alpha: number, xs: readonly tf.Tensor[], beta: number, ys: readonly tf.Tensor[], donate = false): tf.Tensor[] => {
  const inputs: Record<string, tf.Tensor> = {}
  xs.forEach((x, i) => {
    inputs[`x${i}`] = x
    inputs[`y${i}`] = ys[i]!
  })
  return axpbyManyKernel.run<tf.Tensor[]>(inputs, { alpha, beta, n: xs.length, inPlace: donate })
}
