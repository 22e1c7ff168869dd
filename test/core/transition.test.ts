/**
 * Transitions, combinators, the memory policy and the drivers, on every backend.
 */
import { pipe } from 'fp-ts/lib/function.js'
import * as State from 'fp-ts/lib/State.js'
import { expect } from 'vitest'
import {
  DisposedTensorError,
  type Leaf,
  type Ops,
  type Transition,
  disposeTree,
  masked,
  named,
  run,
  scan,
  sequence,
  transition,
  tree,
  underPrefix,
} from 'polyak'
import { describeEachBackend, itOn } from '../support/backends.js'

type P<T> = { readonly w: T }
type S<T> = { readonly count: T }

/** `w ← d·w + (1−d)·target`, `count ← count + 1`; reports the change of `w`. */
const emaToward = <T extends Leaf>(ops: Ops<T>, target: T, decay: number): Transition<P<T>, S<T>, T> =>
  transition(ops, ({ params, stats }) => {
    const w = ops.axpby(decay, params.w, 1 - decay, target)
    const count = ops.add(stats.count, ops.scalar(1, 'int32'))
    return [ops.sub(w, params.w), { params: { w }, stats: { count } }]
  })

/** A body that passes every input leaf straight through (the case `transition` must clone). */
const passThrough = <T extends Leaf>(ops: Ops<T>): Transition<P<T>, S<T>, T> => transition(ops, (s) => [s.params.w, s])

const read = async <T extends Leaf>(ops: Ops<T>, t: T): Promise<number[]> => Array.from(await ops.read(t))

describeEachBackend('transitions and the memory policy', (b) => {
  const it = itOn(b)
  const init = <T extends Leaf>(ops: Ops<T>) => ({
    params: { w: ops.tensor([0, 10], [2]) },
    stats: { count: ops.scalar(0, 'int32') },
  })

  it('is pure: inputs unchanged, the same result twice', async (ops) => {
    const s0 = init(ops)
    const step = emaToward(ops, ops.tensor([1, 1], [2]), 0.5)
    const [d1, s1] = step(s0)
    const [d2, s2] = step(s0)
    expect(await read(ops, s0.params.w)).toEqual([0, 10])
    expect(await read(ops, s0.stats.count)).toEqual([0])
    expect(await read(ops, s1.params.w)).toEqual([0.5, 5.5])
    expect(await read(ops, s2.params.w)).toEqual(await read(ops, s1.params.w))
    expect(await read(ops, d1)).toEqual(await read(ops, d2))
    expect(s1.stats.count.dtype).toBe('int32')
    expect(await read(ops, s1.stats.count)).toEqual([1])
  })

  it('outputs are owned: disposing the input state leaves the output valid, even for pass-through leaves', async (ops) => {
    const s0 = init(ops)
    const [report, s1] = passThrough(ops)(s0)
    expect(s1.params.w).not.toBe(s0.params.w)
    expect(report).not.toBe(s0.params.w)
    disposeTree(ops, s0)
    expect(await read(ops, s1.params.w)).toEqual([0, 10])
    expect(await read(ops, report)).toEqual([0, 10])
  })

  it('a disposed input leaf is an error naming its path in the state', (ops) => {
    const s0 = init(ops)
    ops.dispose(s0.stats.count)
    expect(() => emaToward(ops, ops.zeros([2]), 0.5)(s0)).toThrow(DisposedTensorError)
    expect(() => emaToward(ops, ops.zeros([2]), 0.5)(s0)).toThrow(/'stats\/count' is a disposed tensor/)
  })

  it('does not leak: the live tensor count grows by exactly the new state and report', (ops) => {
    const s0 = init(ops)
    const target = ops.tensor([1, 1], [2])
    const step = emaToward(ops, target, 0.9)
    // warm up (backends may cache constants on first use)
    disposeTree(ops, step(s0))
    const before = ops.liveTensors()
    for (let i = 0; i < 5; i++) {
      const out = step(s0)
      expect(ops.liveTensors()).toBe(before + 3) // report, w, count
      disposeTree(ops, out)
      expect(ops.liveTensors()).toBe(before)
    }
  })

  it('composes with fp-ts pipe / State.flatMap, and transition() frees the intermediate state', async (ops) => {
    const target = ops.tensor([1, 1], [2])
    const step = emaToward(ops, target, 0.5)
    const twice = transition(
      ops,
      pipe(
        step,
        State.flatMap((first) =>
          pipe(
            step,
            State.map((second) => [first, second] as const),
          ),
        ),
      ),
    )
    const s0 = init(ops)
    disposeTree(ops, twice(s0))
    const before = ops.liveTensors()
    const [[d1, d2], s2] = twice(s0)
    expect(ops.liveTensors()).toBe(before + 4) // two reports, w, count
    expect(await read(ops, s2.params.w)).toEqual([0.75, 3.25])
    expect(await read(ops, d1)).toEqual([0.5, -4.5])
    expect(await read(ops, d2)).toEqual([0.25, -2.25])
    expect(await read(ops, s2.stats.count)).toEqual([2])
  })

  it('sequence runs steps in order on one state and reports a tuple', async (ops) => {
    const s0 = init(ops)
    const [[a, bb], s2] = sequence(ops, emaToward(ops, ops.tensor([1, 1], [2]), 0.5), emaToward(ops, ops.tensor([3, 3], [2]), 0))(s0)
    expect(await read(ops, s2.params.w)).toEqual([3, 3])
    expect(await read(ops, a)).toEqual([0.5, -4.5])
    expect(await read(ops, bb)).toEqual([2.5, -2.5])
  })

  it('named runs children on their own parts of a composite state', async (ops) => {
    const both = named(ops, {
      fast: emaToward(ops, ops.tensor([1, 1], [2]), 0),
      slow: emaToward(ops, ops.tensor([1, 1], [2]), 1),
    })
    const s0 = {
      params: { fast: init(ops).params, slow: init(ops).params },
      stats: { fast: init(ops).stats, slow: init(ops).stats },
    }
    const [reports, s1] = both(s0)
    expect(await read(ops, s1.params.fast.w)).toEqual([1, 1])
    expect(await read(ops, s1.params.slow.w)).toEqual([0, 10])
    expect(await read(ops, reports.fast)).toEqual([1, -9])
    expect(tree.paths(s1.params)).toEqual(['fast/w', 'slow/w'])
  })

  it('masked updates only the selected leaves and returns the others unchanged (as owned clones)', async (ops) => {
    type AnyTree = tree.Tree<Leaf>
    const zeroAll: Transition<AnyTree, AnyTree, undefined> = transition(ops, (s) => [
      undefined,
      { params: tree.mapAny(s.params, (l) => ops.zeros((l as Leaf).shape)) as AnyTree, stats: s.stats },
    ])
    const params = {
      backbone: { w: ops.tensor([1, 2], [2]) },
      projector: [{ w: ops.tensor([3, 4], [2]) }],
    }
    const onlyProjector = masked<Leaf, typeof params, AnyTree, undefined>(ops, underPrefix('projector'), zeroAll)
    const [, s1] = onlyProjector({ params, stats: {} })
    expect(await read(ops, s1.params.backbone.w)).toEqual([1, 2])
    expect(s1.params.backbone.w).not.toBe(params.backbone.w)
    expect(await read(ops, s1.params.projector[0]!.w)).toEqual([0, 0])
    expect(Array.isArray(s1.params.projector)).toBe(true)
  })

  it('run disposes every intermediate state, keeps s0, and returns a disposable final state', async (ops) => {
    const s0 = init(ops)
    const step = emaToward(ops, ops.tensor([1, 1], [2]), 0.5)
    disposeTree(ops, step(s0))
    const before = ops.liveTensors()
    const seen: number[] = []
    const { state, reports } = run(ops, step, s0, 10, { collectReports: false, onStep: (_r, i) => seen.push(i) })
    expect(reports).toEqual([])
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(ops.liveTensors()).toBe(before + 2) // final w and count only
    expect(await read(ops, s0.params.w)).toEqual([0, 10])
    const w = await read(ops, state.params.w)
    expect(w[0]).toBeCloseTo(1 - 0.5 ** 10, 6)
    expect(await read(ops, state.stats.count)).toEqual([10])
    state[Symbol.dispose]()
    expect(ops.liveTensors()).toBe(before)
  })

  it('scan threads inputs; with zero steps it returns an owned copy of s0', async (ops) => {
    const s0 = init(ops)
    const targets = [ops.tensor([2, 2], [2]), ops.tensor([4, 4], [2])]
    const { state, reports } = scan(ops, targets, (t) => emaToward(ops, t, 0), s0)
    expect(await read(ops, state.params.w)).toEqual([4, 4])
    expect(reports.length).toBe(2)
    const empty = scan(ops, [], (t: Leaf) => emaToward(ops, t as never, 0), s0)
    expect(empty.state.params.w).not.toBe(s0.params.w)
    expect(await read(ops, empty.state.params.w)).toEqual([0, 10])
  })
})
