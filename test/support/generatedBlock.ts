/**
 * A generated markdown block in a doc file, between two marker lines: the test that generates it
 * checks the file holds it as generated now (cell by cell: a formatter may pad table columns), or,
 * with `POLYAK_WRITE_DOCS=1` (`npm run docs:generated`), writes it there.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { expect } from 'vitest'

const cells = (t: string): string[] =>
  t
    .trim()
    .split('\n')
    .map((l) => l.replace(/\s+/g, ' ').replace(/-{3,}/g, '---').trim())

/** Checks (or writes) `generated` between the lines `begin` and `end` of `file`; `what` names the block in the failure. */
export const expectGeneratedBlock = (file: string, begin: string, end: string, generated: string, what: string): void => {
  const doc = readFileSync(file, 'utf8')
  const start = doc.indexOf(begin)
  const stop = doc.indexOf(end)
  expect(start, `${file} has no line ${begin}`).toBeGreaterThanOrEqual(0)
  expect(stop).toBeGreaterThan(start)
  if (process.env.POLYAK_WRITE_DOCS === '1') {
    writeFileSync(file, `${doc.slice(0, start + begin.length)}\n\n${generated}\n\n${doc.slice(stop)}`)
    return
  }
  expect(cells(doc.slice(start + begin.length, stop)), `${what} in ${file} is out of date: run npm run docs:generated`).toEqual(cells(generated))
}
