/**
 * The scaffolding of polyak's flat elementwise WGSL programs for tfjs-backend-webgpu's program
 * runner: one invocation per output element (or per `vec4` of them), `main(index)` with the flat
 * index, dispatches spread over y beyond WebGPU's 65 535 workgroups per dimension.
 *
 * @module kernels/webgpuProgram
 */

/** A custom `int32` uniform for `runWebGPUProgram`, in the order the program's `uniforms` declares them. */
export const int32 = (v: number): { type: 'int32'; data: number[] } => ({ type: 'int32', data: [v] })

/** A flat elementwise program; subclasses give the inputs, uniforms and `getUserCode`. */
export abstract class ElementwiseProgram {
  readonly size = true
  readonly workgroupSize: [number, number, number] = [64, 1, 1]
  readonly dispatchLayout: { x: number[] }
  readonly dispatch: [number, number, number]
  readonly shaderKey: string
  /** 4 when every binding is read and written as `vec4<f32>` (`uniforms.size` then counts vec4s). */
  readonly outputComponent: number
  readonly variableComponents: number[]
  abstract readonly variableNames: string[]
  abstract readonly uniforms: string

  constructor(
    readonly outputShape: number[],
    name: string,
    inputs: number,
    vec4: boolean,
  ) {
    this.dispatchLayout = { x: outputShape.map((_, i) => i) }
    this.outputComponent = vec4 ? 4 : 1
    this.variableComponents = Array.from({ length: inputs }, () => this.outputComponent)
    this.shaderKey = `polyak_${name}_${this.outputComponent}`
    const groups = Math.ceil(outputShape.reduce((p, d) => p * d, 1) / this.outputComponent / this.workgroupSize[0])
    this.dispatch = groups > 65535 ? [65535, Math.ceil(groups / 65535), 1] : [groups, 1, 1]
  }

  abstract getUserCode(): string
}
