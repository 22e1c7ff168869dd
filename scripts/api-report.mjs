// The public API guard: api-extractor reads each entry's built declarations (dist/) and writes its
// API report (docs/api-report/*.api.md, committed). `npm run api:check` fails when a report would
// change, that is, when the public surface changed without the report being updated;
// `npm run api:update` rewrites the reports (review the diff, then commit it with the change).
import { mkdirSync } from 'node:fs'
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor'

const update = process.argv.includes('--update')
const root = process.cwd()
const ENTRIES = [
  ['polyak', 'dist/src/index.d.ts'],
  ['polyak-laws', 'dist/laws/index.d.ts'],
  ['polyak-backends', 'dist/backends/index.d.ts'],
  ['polyak-layers', 'dist/src/layers/index.d.ts'],
  ['polyak-node', 'dist/src/node/index.d.ts'],
]
mkdirSync('docs/api-report', { recursive: true })
const changed = []
for (const [name, dts] of ENTRIES) {
  const config = ExtractorConfig.prepare({
    configObject: {
      projectFolder: root,
      mainEntryPointFilePath: `<projectFolder>/${dts}`,
      compiler: { tsconfigFilePath: '<projectFolder>/tsconfig.build.json' },
      apiReport: {
        enabled: true,
        reportFileName: `${name}.api.md`,
        reportFolder: '<projectFolder>/docs/api-report/',
        reportTempFolder: '<projectFolder>/node_modules/.cache/api-report/',
      },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        // the report is the guard; release tags and TSDoc syntax are not what it checks
        extractorMessageReporting: { default: { logLevel: 'none' } },
        tsdocMessageReporting: { default: { logLevel: 'none' } },
        compilerMessageReporting: { default: { logLevel: 'warning' } },
      },
    },
    packageJsonFullPath: `${root}/package.json`,
  })
  const result = Extractor.invoke(config, { localBuild: update, showVerboseMessages: false, showDiagnostics: false })
  if (result.apiReportChanged) changed.push(name)
  if (!result.succeeded && !result.apiReportChanged)
    throw new Error(`api-extractor failed on ${name} (${result.errorCount} errors, ${result.warningCount} warnings)`)
}
if (changed.length > 0 && !update) {
  console.error(`the public API changed (${changed.join(', ')}): run npm run api:update, review docs/api-report/, and commit it with the change`)
  process.exit(1)
}
console.log(update ? `API reports written (${changed.length} changed)` : `public API unchanged (${ENTRIES.length} entries)`)
