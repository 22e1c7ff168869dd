import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ShapeMismatchError, TreeStructureError, referenceOps as ops, tree, underPrefix } from 'polyak'

const t = (shape: number[], v = 0) => ops.fill(shape, v)

describe('tree', () => {
  const params = {
    backbone: { conv1: { weight: t([3, 3, 1, 4]), bias: t([4]) } },
    projector: [{ weight: t([4, 2]) }, { weight: t([2, 2]) }],
  }

  it('lists leaves and paths in insertion order, arrays by index', () => {
    expect(tree.paths(params)).toEqual(['backbone/conv1/weight', 'backbone/conv1/bias', 'projector/0/weight', 'projector/1/weight'])
    expect(tree.size(params)).toBe(4)
  })

  it('map keeps the structure and passes paths', () => {
    const shapes = tree.map(params, (leaf, path) => `${path}:${leaf.shape.join('x')}`)
    expect(shapes).toEqual({
      backbone: { conv1: { weight: 'backbone/conv1/weight:3x3x1x4', bias: 'backbone/conv1/bias:4' } },
      projector: [{ weight: 'projector/0/weight:4x2' }, { weight: 'projector/1/weight:2x2' }],
    })
  })

  it('zipWith pairs leaves by path', () => {
    const other = tree.map(params, (leaf) => ops.fill(leaf.shape, 1))
    const pairs = tree.zipWith(params, other, (a, b, path) => `${path}:${a.shape.length === b.shape.length}`)
    expect(tree.leaves(pairs as never).map(([, v]) => v)).toEqual([
      'backbone/conv1/weight:true',
      'backbone/conv1/bias:true',
      'projector/0/weight:true',
      'projector/1/weight:true',
    ])
  })

  it('zipWith names the first mismatching path and both shapes', () => {
    const bad = { ...params, backbone: { conv1: { weight: t([3, 3, 1, 4]), bias: t([5]) } } }
    expect(() => tree.zipWith(params, bad, () => 0)).toThrow(ShapeMismatchError)
    expect(() => tree.zipWith(params, bad, () => 0)).toThrow(/backbone\/conv1\/bias.*\[4\].*\[5\]/)
  })

  it('zipWith names a missing key, an extra key and a length mismatch', () => {
    const missing = { backbone: { conv1: { weight: t([3, 3, 1, 4]) } }, projector: params.projector }
    expect(() => tree.zipWith(params, missing, () => 0)).toThrow(TreeStructureError)
    expect(() => tree.zipWith(params, missing, () => 0)).toThrow(/'backbone\/conv1\/bias'.*missing in the second/)
    expect(() => tree.zipWith(missing, params, () => 0)).toThrow(/'backbone\/conv1\/bias'.*missing in the first/)
    const short = { ...params, projector: [params.projector[0]!] }
    expect(() => tree.zipWith(params, short, () => 0)).toThrow(/'projector'.*array of 2.*array of 1/)
  })

  it('rejects null leaves and keys containing the separator, naming the path', () => {
    expect(() => tree.paths({ a: { b: null } } as never)).toThrow(/'a\/b'.*null/)
    expect(() => tree.paths({ 'a/b': t([1]) })).toThrow(/contains '\/'/)
  })

  it('mask and select by path predicate', () => {
    const isProjector = underPrefix('projector')
    expect(tree.leaves(tree.mask(params, isProjector) as never).map(([p, v]) => [p, v])).toEqual([
      ['backbone/conv1/weight', false],
      ['backbone/conv1/bias', false],
      ['projector/0/weight', true],
      ['projector/1/weight', true],
    ])
    expect(tree.paths(tree.select(params, isProjector))).toEqual(['projector/0/weight', 'projector/1/weight'])
    expect(tree.paths(tree.select(params, () => false))).toEqual([])
  })

  it('underPrefix matches whole path segments only', () => {
    const p = underPrefix('proj')
    expect(p('proj/w')).toBe(true)
    expect(p('proj')).toBe(true)
    expect(p('projector/w')).toBe(false)
  })

  it('property: map with the identity preserves paths and leaves; select(all) keeps every path', () => {
    const treeArb = fc.letrec<{ node: unknown }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.integer({ min: 1, max: 3 }).map((d) => t([d])),
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(fc.stringMatching(/^[a-z]{1,4}$/), tie('node'), { maxKeys: 3 }),
      ),
    })).node
    fc.assert(
      fc.property(treeArb, (x) => {
        const tr = x as tree.Tree<ReturnType<typeof t>>
        const same = tree.map(tr as never, (leaf) => leaf)
        const before = tree.leaves(tr)
        const after = tree.leaves(same as never)
        expect(after.map(([p]) => p)).toEqual(before.map(([p]) => p))
        expect(after.every(([, l], i) => l === before[i]![1])).toBe(true)
        expect(tree.paths(tree.select(tr, () => true))).toEqual(before.map(([p]) => p))
        return true
      }),
    )
  })
})
