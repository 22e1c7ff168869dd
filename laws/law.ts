/**
 * Laws, in two layers (as fp-ts-laws):
 *
 * - a **predicate** `(subject, context) => (input) => Promise<boolean>` — pure, returns whether the law
 *   holds for one input (async because GPU backends read back asynchronously);
 * - a **runner** that draws inputs from the law's fast-check arbitrary and reports, for each law,
 *   pass or fail with the seed and the shrunk counterexample to replay.
 *
 * fast-check is an optional peer dependency of polyak: only `polyak/laws` imports it.
 *
 * @module laws/law
 */
import fc from 'fast-check'
import { type Leaf, mapAny } from '../src/core/tree.js'
import { isTensorLike, tensorLeaves } from '../src/core/memory.js'
import { allClose } from './eq.js'
import type { Ops } from '../src/core/ops.js'
import { type Tolerance, toleranceOf } from '../src/core/tolerance.js'

/** Tolerance `|a − b| ≤ atol + rtol·|b|` of one op (`core/tolerance`); laws scale it by problem size where they say so. */
export type LawTolerance = Tolerance

/** What every law runs with: the interpreter and its tolerance. */
export interface LawContext<T extends Leaf = Leaf> {
  readonly ops: Ops<T>
  readonly tolerance: LawTolerance
}

/** A law about subjects of type `S`, with inputs of type `I`. */
export interface Law<S, I = unknown> {
  /** Stable identifier, e.g. `'ema.identity'`. */
  readonly name: string
  /** The precise statement, formula included. */
  readonly statement: string
  /** Inputs to check the law on. */
  readonly arbitrary: (subject: S, context: LawContext) => fc.Arbitrary<I>
  /** Whether the law holds for one input (resolves `false` or rejects when it does not). */
  readonly predicate: (subject: S, context: LawContext) => (input: I) => Promise<boolean>
}

/** A law with its input type forgotten: what the runners take, so suites can mix laws with different inputs. */
export interface SomeLaw<S> {
  readonly name: string
  readonly statement: string
  readonly arbitrary: (subject: S, context: LawContext) => fc.Arbitrary<unknown>
  readonly predicate: (subject: S, context: LawContext) => (input: never) => Promise<boolean>
}

/** Options of the runners. */
export interface RunOptions {
  /** Random inputs per law (default 50). */
  readonly numRuns?: number
  /** Seed, for replay (default: random, reported on failure). */
  readonly seed?: number
  /** Tolerance (default: the backend's, from the subject's ops). */
  readonly tolerance?: LawTolerance
  /** Only the laws whose name matches. */
  readonly only?: (name: string) => boolean
  /**
   * Seed of the configs `runCatalogue` draws from the normalizers' io-ts codecs (default 0), kept
   * apart from `seed` so that replaying a law's seed sees the same configs.
   */
  readonly configSeed?: number
  /** How many configs `runCatalogue` draws per normalizer (default 2; 0 runs the fixed configs only). */
  readonly configsPerNormalizer?: number
  /** Stop at the first failing input without shrinking it (what a power measurement wants). */
  readonly endOnFailure?: boolean
}

/** The outcome of one law on one subject. */
export interface LawResult {
  readonly law: string
  readonly subject: string
  readonly passed: boolean
  /** Seed of the run (replay with `{ seed }`). */
  readonly seed: number
  /** Number of inputs checked. */
  readonly runs: number
  /** The shrunk counterexample and the failure, when the law failed. */
  readonly counterexample?: string
  readonly error?: string
}

/** Thrown by `assertLaws` when a law fails: the message lists each failure with its seed. */
export class LawError extends Error {
  override readonly name = 'LawError'
  constructor(readonly failures: readonly LawResult[]) {
    super(
      failures.map((f) => `law ${f.law} failed for ${f.subject} (seed ${f.seed}): ${f.error ?? ''}\n  counterexample: ${f.counterexample ?? '?'}`).join('\n'),
    )
  }
}

/** Default tolerance of an interpreter: its entry in the one tolerance table (`TOLERANCES`), which the backend descriptors read too. */
export const defaultTolerance = (ops: Ops<Leaf>): LawTolerance => toleranceOf(ops.name)

const describeError = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n').slice(0, 3).join(' ')

/** A runner: `laws` on one named subject, on the interpreter `ops`. */
export type LawRunner = <S>(subjectName: string, subject: S, laws: ReadonlyArray<SomeLaw<S>>, ops: Ops<Leaf>, options?: RunOptions) => Promise<LawResult[]>

/** Runs `laws` on one subject; never throws, reports every law. */
export const runLaws: LawRunner = async (subjectName, subject, laws, ops, options = {}) => {
  const context: LawContext = { ops, tolerance: options.tolerance ?? defaultTolerance(ops) }
  const out: LawResult[] = []
  // a SomeLaw is a Law whose input type was forgotten; its arbitrary produces exactly what its predicate takes
  for (const law of laws as unknown as ReadonlyArray<Law<typeof subject, unknown>>) {
    if (options.only !== undefined && !options.only(law.name)) continue
    const predicate = law.predicate(subject, context)
    const details = await fc.check(
      fc.asyncProperty(law.arbitrary(subject, context), (input) => predicate(input)),
      {
        numRuns: options.numRuns ?? 50,
        ...(options.seed === undefined ? {} : { seed: options.seed }),
        ...(options.endOnFailure === true ? { endOnFailure: true } : {}),
      },
    )
    out.push({
      law: law.name,
      subject: subjectName,
      passed: !details.failed,
      seed: details.seed,
      runs: details.numRuns,
      ...(details.failed
        ? {
            counterexample: fc.stringify(details.counterexample).slice(0, 400),
            error:
              details.errorInstance === null || details.errorInstance === undefined ? 'the predicate returned false' : describeError(details.errorInstance),
          }
        : {}),
    })
  }
  return out
}

/** Runs `laws` and throws a `LawError` listing every failure (seed, counterexample); for test runners. */
export const assertLaws: LawRunner = async (subjectName, subject, laws, ops, options = {}) => {
  const results = await runLaws(subjectName, subject, laws, ops, options)
  const failures = results.filter((r) => !r.passed)
  if (failures.length > 0) throw new LawError(failures)
  return results
}

/** `R` with every tensor leaf replaced by its data (a `number[]`). */
export type Host<R> = R extends Leaf
  ? number[]
  : R extends readonly unknown[]
    ? { [K in keyof R]: Host<R[K]> }
    : R extends object
      ? { [K in keyof R]: Host<R[K]> }
      : R

/**
 * Runs `f` in a memory scope, reads every tensor it returns back to the host, frees them, and
 * returns the same structure with arrays in place of tensors. Predicates use it so that no law
 * leaks a tensor, whatever the subject does.
 */
export const evaluate = async <R>(ops: Ops<Leaf>, f: () => R): Promise<Host<R>> => {
  const r = ops.tidy(f)
  const tensors = tensorLeaves<Leaf>(r).map(([, t]) => t)
  const data = new Map<Leaf, number[]>()
  try {
    for (const t of tensors) data.set(t, Array.from(await ops.read(t)))
  } finally {
    for (const t of tensors) ops.dispose(t)
  }
  if (isTensorLike(r)) return data.get(r) as Host<R>
  return mapAny(r, (leaf) => (isTensorLike(leaf) ? data.get(leaf) : leaf)) as Host<R>
}

/** `true` when `|a_i − b_i| ≤ atol + rtol·scale_i` for all `i` (scale defaults to `|b_i|`); NaN equals NaN (`allClose`). */
export const closeTo = (a: ArrayLike<number>, b: ArrayLike<number>, tol: LawTolerance, scale?: ArrayLike<number>): boolean =>
  allClose(a, b, { rtol: tol.rtol, atol: tol.atol, ...(scale === undefined ? {} : { scale }) })

/** `true` when two arrays are equal element by element (bitwise for floats, `0 === -0`). */
export const exactlyEqual = (a: ArrayLike<number>, b: ArrayLike<number>): boolean =>
  a.length === b.length && Array.from(a).every((v, i) => v === b[i] || (Number.isNaN(v) && Number.isNaN(b[i]!)))

/** Copies of the data of `tensors` (read now; a later in-place write does not change them). */
export const snapshot = async (ops: Ops<Leaf>, tensors: readonly Leaf[]): Promise<number[][]> => {
  const out: number[][] = []
  for (const t of tensors) out.push(Array.from(await ops.read(t)))
  return out
}

/**
 * Runs `f` on borrowed `inputs` and checks that every input still holds, bitwise, what it held
 * before: no in-place write, no disposal (reading a disposed input throws, which fails the law).
 * `f`'s results are freed. The inputs stay the caller's to free.
 */
export const leavesInputsUntouched = async (ops: Ops<Leaf>, inputs: readonly Leaf[], f: () => unknown): Promise<boolean> => {
  const before = await snapshot(ops, inputs)
  const result = ops.tidy(() => {
    const r = f()
    return tensorLeaves<Leaf>(r).map(([, t]) => t)
  })
  for (const t of result) if (!inputs.includes(t)) ops.dispose(t)
  const after = await snapshot(ops, inputs)
  return before.every((b, i) => exactlyEqual(b, after[i]!))
}
