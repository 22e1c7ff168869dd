/**
 * The shape interpreter's law: on any input, `shapeOps` predicts what a real interpreter does — the
 * same shapes and dtypes of every output and state leaf, or the same error (class and message).
 *
 * @module laws/shapes
 */
import fc from 'fast-check'
import { showShape } from '../src/core/errors.js'
import type { Ops } from '../src/core/ops.js'
import { type ShapeTensor, placeholder } from '../src/core/shapeOps.js'
import { type Leaf, leaves } from '../src/core/tree.js'
import { disposeTree } from '../src/core/memory.js'
import { unsafeTeacherUpdate } from '../src/ema/teacher.js'
import { activationNormalizer, normalizerDefinitions, weightNormalizer } from '../src/norm/registry.js'
import { unsafe } from '../src/codecs/config.js'
import { configArb } from './arbitraries.js'
import type { Law } from './law.js'

/** The shape interpreter under test. */
export type ShapeInterpreterSubject = Ops<ShapeTensor>

/** One step to run on both interpreters: its name (for counterexamples) and how it runs on any `Ops`, given input shapes. */
export interface ShapeCase {
  readonly what: string
  readonly run: <T extends Leaf>(ops: Ops<T>, input: (shape: readonly number[], dtype?: 'float32' | 'int32') => T) => unknown
}

/** What a run came to: the path, shape and dtype of every tensor leaf it returned, or its error. */
const outcome = <T extends Leaf>(ops: Ops<T>, c: ShapeCase, input: (shape: readonly number[], dtype?: 'float32' | 'int32') => T): string => {
  try {
    const r = ops.tidy(() => c.run(ops, input))
    const described = leaves(r as never)
      .filter(([, l]) => typeof l === 'object')
      .map(([p, l]) => `${p}:${(l as Leaf).dtype}${showShape((l as Leaf).shape)}`)
      .join(' ')
    disposeTree(ops, r)
    return described
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`
  }
}

const shapeArb = (rank: number): fc.Arbitrary<number[]> => fc.array(fc.integer({ min: 1, max: 4 }), { minLength: rank, maxLength: rank })

/** Cases over every registered normalizer, a teacher update and an EMA step, with shapes that sometimes do not fit. */
const caseArb = (): fc.Arbitrary<ShapeCase> => {
  const activations = normalizerDefinitions('activation')
  const weights = normalizerDefinitions('weight')
  const normalizerCase = fc
    .record({
      index: fc.nat({ max: activations.length - 1 }),
      config: fc.constant(null),
      lead: fc.integer({ min: 1, max: 3 }).chain(shapeArb),
      channels: fc.integer({ min: 1, max: 6 }),
      paramChannels: fc.option(fc.integer({ min: 1, max: 6 }), { freq: 3 }),
      mode: fc.constantFrom('train' as const, 'eval' as const),
      step: fc.integer({ min: 0, max: 12 }),
      views: fc.constantFrom(1, 2, 3),
    })
    .chain((r) => configArb(activations[r.index]!.fields).map((config) => ({ ...r, config })))
    .map((r): ShapeCase => ({
      what: `${activations[r.index]!.name} ${JSON.stringify(r.config)} x ${showShape([...r.lead, r.channels])} params for ${r.paramChannels ?? r.channels} ${r.mode} step ${r.step} views ${r.views}`,
      run: (ops, input) => {
        const n = unsafe(
          activationNormalizer(
            ops,
            { name: activations[r.index]!.name, config: r.config as Record<string, unknown> },
            { channels: r.channels, totalSteps: 10 },
          ),
        )!
        const [y, next] = n.apply(input([...r.lead, r.channels]), r.mode, { step: r.step, views: r.views })(n.init(r.paramChannels ?? r.channels))
        return { y, next }
      },
    }))
  const weightCase = fc
    .record({
      index: fc.nat({ max: Math.max(0, weights.length - 1) }),
      shape: fc.integer({ min: 1, max: 4 }).chain(shapeArb),
      layout: fc.constantFrom('HWIO', 'OIHW', 'IO', 'OI'),
    })
    .map((r): ShapeCase => ({
      what: `${weights[r.index]!.name} layout ${r.layout} weight ${showShape(r.shape)}`,
      run: (ops, input) => {
        const wn = unsafe(weightNormalizer(ops, { name: weights[r.index]!.name, config: { layout: r.layout } }))!
        const s = wn.init(input(r.shape))
        return { w: wn.transform(s.params), params: s.params }
      },
    }))
  const teacherCase = fc
    .record({
      a: fc.integer({ min: 1, max: 4 }).chain(shapeArb),
      b: fc.integer({ min: 1, max: 4 }).chain(shapeArb),
      renamed: fc.boolean(),
      intCount: fc.boolean(),
    })
    .map((r): ShapeCase => ({
      what: `teacherUpdate teacher w ${showShape(r.a)} student ${r.renamed ? 'v' : 'w'} ${showShape(r.b)}`,
      run: (ops, input) => {
        const student = { params: { [r.renamed ? 'v' : 'w']: input(r.b) }, stats: { count: input([], r.intCount ? 'int32' : 'float32') } }
        const teacher = { params: { w: input(r.a) }, stats: { count: input([], 'int32') } }
        return unsafeTeacherUpdate(ops, { decay: 0.9 })(student as never)(teacher as never)[1]
      },
    }))
  const primitiveCase = fc
    .record({
      a: fc.integer({ min: 0, max: 3 }).chain(shapeArb),
      b: fc.integer({ min: 0, max: 3 }).chain(shapeArb),
      axis: fc.integer({ min: -4, max: 3 }),
      keep: fc.boolean(),
    })
    .map((r): ShapeCase => ({
      what: `primitives on a ${showShape(r.a)}, b ${showShape(r.b)}, axis ${r.axis}`,
      run: (ops, input) => {
        // outcome() runs this in a tidy scope: the inputs and intermediates are freed there
        const a = input(r.a)
        const b = input(r.b)
        const m = ops.moments(ops.axpby(0.5, a, 0.5, b), [r.axis], { keepDims: r.keep })
        return {
          sum: ops.add(a, b),
          all: ops.mean(b, undefined, r.keep),
          max: ops.max(a, undefined, r.keep),
          mean: m.mean,
          variance: m.variance,
          normalized: ops.normalize(a, b, b, a),
          // b as the per-slice scale of a standardisation over one axis: fits only when b broadcasts to the statistics
          standardized: ops.standardize(a, [r.axis], b, 1e-5),
          // one pair of equal shapes and one that fits only when a and b broadcast
          many: ops.axpbyMany(0.9, [a, a], 0.1, [a, b]),
        }
      },
    }))
  return fc.oneof(normalizerCase, normalizerCase, weightCase, teacherCase, primitiveCase)
}

/**
 * `shapeOps` agrees with the interpreter under test: for random normalizers of the registry (configs
 * drawn from their codecs, channel counts that sometimes differ from the parameters', any mode, step
 * and view count), weight normalizers, teacher updates between trees that sometimes do not match,
 * and broadcasting primitives, the shape interpreter returns the same shapes and dtypes at the
 * same paths, or raises the same error (S1).
 */
export const shapesAgree: Law<ShapeInterpreterSubject, ShapeCase> = {
  name: 'shapes.agree',
  statement: 'shapeOps returns the shapes and dtypes the interpreter returns, at the same paths, or the same error (S1)',
  arbitrary: () => caseArb(),
  predicate:
    (shapes, { ops }) =>
    async (c) => {
      const real = outcome(ops, c, (shape, dtype = 'float32') => (dtype === 'int32' ? ops.zeros(shape, 'int32') : ops.fill(shape, 0.5)))
      const predicted = outcome(shapes, c, (shape, dtype = 'float32') => placeholder(shape, dtype))
      if (real !== predicted) throw new Error(`${c.what}: real ${real} | shapes ${predicted}`)
      return true
    },
}
