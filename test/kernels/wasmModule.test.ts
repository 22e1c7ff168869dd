/**
 * polyak's WebAssembly kernels instantiate on both kinds of memory tfjs-wasm can have: its plain
 * build's and its threaded build's shared memory (the shared binary is the plain one with the
 * shared build's import section spliced in), and compute the same on both. Runs in Node on a
 * memory of its own: no tfjs backend is involved.
 */
import { describe, expect, it } from 'vitest'
import { type WasmBackendLike, wasmKernelStatus, wasmKernels } from '../../src/kernels/wasm/module.js'

/** A stand-in for tfjs-wasm's backend: only its memory, which is all `wasmKernels` reads. */
const backendOn = (memory: WebAssembly.Memory) => ({ wasm: { wasmMemory: memory } }) as unknown as WasmBackendLike

describe('polyak wasm kernels on plain and shared memory', () => {
  for (const shared of [false, true]) {
    it(`instantiate on a ${shared ? 'shared' : 'plain'} memory and compute out = α·x + β·y`, () => {
      const memory = new WebAssembly.Memory(shared ? { initial: 2, maximum: 65536, shared: true } : { initial: 2 })
      const kernels = wasmKernels(backendOn(memory))
      expect(kernels, wasmKernelStatus().reason).not.toBeNull()
      expect(wasmKernelStatus()).toEqual({ on: true, memory: shared ? 'shared' : 'plain' })
      expect(memory.buffer instanceof SharedArrayBuffer).toBe(shared)
      const n = 37 // a SIMD body and a scalar tail
      const f32 = new Float32Array(memory.buffer)
      const [x, y, out] = [1024, 2048, 4096]
      for (let i = 0; i < n; i++) {
        f32[x / 4 + i] = i * 0.5
        f32[y / 4 + i] = 3 - i
      }
      kernels!.axpby(out, x, y, n, 0.25, -2)
      for (let i = 0; i < n; i++) expect(f32[out / 4 + i]).toBe(Math.fround(Math.fround(0.25 * Math.fround(i * 0.5)) + Math.fround(-2 * (3 - i))))
    })
  }
})
