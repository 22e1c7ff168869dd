// The API reference's two additions to typedoc, as a local plugin (npm run docs):
// - every export gets a category from the folder it is defined in (normalizers, EMA and teachers,
//   models, pipelines, ...), so the reference groups the 240-odd root exports by what they are;
// - every law ID in a doc comment (B1, E4, N5, M7, W12, D3, L1, S1, P7, ...) becomes a link to
//   docs/methods.md, where the law and its formula are stated.
import { Comment, CommentTag, Converter, ReflectionKind } from 'typedoc'
import { relative, sep } from 'node:path'

const CATEGORIES = [
  ['src/norm/', 'Normalizers'],
  ['src/ema/', 'EMA, schedules and teachers'],
  ['src/core/', 'DSL, trees and interpreters'],
  ['src/codecs/', 'Configs and JSON'],
  ['src/nn/', 'Models and modules'],
  ['src/layers/', 'tfjs-layers models'],
  ['src/train/', 'Pipelines'],
  ['src/data/', 'Data'],
  ['src/optim/', 'Optimizers'],
  ['src/kernels/', 'Fused kernels'],
  ['src/node/', 'Node: files, datasets, reports'],
  ['laws/', 'Laws'],
  ['backends/', 'Backends'],
  ['src/', 'Other'],
]

const LAW_ID = /(?<![\w/#[`])([BENMWSDLP]\d{1,2})(?![\w\]])/g

/** @param {import('typedoc').Application} app */
export const load = (app) => {
  const root = process.cwd()
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    if (
      !reflection.kindOf(ReflectionKind.SomeExport) ||
      (reflection.parent?.kind !== ReflectionKind.Module && reflection.parent?.kind !== ReflectionKind.Project)
    )
      return
    const symbol = context.getSymbolFromReflection(reflection)
    const file = symbol?.declarations?.[0]?.getSourceFile().fileName
    if (file === undefined) return
    const path = relative(root, file).split(sep).join('/')
    const category = CATEGORIES.find(([prefix]) => path.startsWith(prefix))?.[1]
    if (category === undefined) return
    reflection.comment ??= new Comment()
    if (reflection.comment.blockTags.some((t) => t.tag === '@category')) return
    reflection.comment.blockTags.push(new CommentTag('@category', [{ kind: 'text', text: category }]))
  })
  app.converter.on(Converter.EVENT_RESOLVE_END, (context) => {
    // docs/methods.md is a document of the reference (projectDocuments); a law ID links to it
    const methods = Object.values(context.project.reflections).find((r) => r.kindOf(ReflectionKind.Document))
    if (methods === undefined) throw new Error('typedoc-polyak: docs/methods.md is not among the project documents')
    const link = (parts) =>
      parts.flatMap((p) => {
        if (p.kind !== 'text') return [p]
        const out = []
        let last = 0
        for (const m of p.text.matchAll(LAW_ID)) {
          if (m.index > last) out.push({ kind: 'text', text: p.text.slice(last, m.index) })
          out.push({ kind: 'inline-tag', tag: '@link', text: m[1], target: methods })
          last = m.index + m[0].length
        }
        if (last < p.text.length) out.push({ kind: 'text', text: p.text.slice(last) })
        return out
      })
    for (const r of Object.values(context.project.reflections)) {
      const c = r.comment
      if (c === undefined) continue
      c.summary = link(c.summary)
      for (const t of c.blockTags) t.content = link(t.content)
    }
  })
}
