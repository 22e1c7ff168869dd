/** `polyak backends`: every backend, whether it runs here and why not, with its adapter, build and kernel state. @module cli/commands/backends */
import { backends, probeBackends } from '../../../../backends/index.js'
import { defineCommand } from '../args.js'
import { formatTable } from '../table.js'

export const backendsCommand = defineCommand({
  name: 'backends',
  usage: 'polyak backends [--json]',
  summary: 'list every backend, whether it can run here and why not, with its adapter, build and kernel state',
  flags: { json: { type: 'boolean', help: 'machine-readable output' } },
  run: async (v) => {
    const rows = await probeBackends()
    // details (the WebGPU adapter, the tfjs-wasm build, whether polyak's kernels are on) need each backend active once
    const details = new Map<string, Readonly<Record<string, string>>>()
    for (const r of rows) {
      if (!r.available) continue
      const d = backends.find((b) => b.name === r.name)!
      await d.activate()
      details.set(r.name, await d.details())
    }
    if (v.json) {
      const out = rows.map((r) =>
        r.available ? { name: r.name, available: true, details: details.get(r.name) ?? {} } : { name: r.name, available: false, reason: r.reason },
      )
      process.stdout.write(JSON.stringify(out, null, 2) + '\n')
      return 0
    }
    const facts = (name: string): string =>
      Object.entries(details.get(name) ?? {})
        .map(([k, x]) => `${k}: ${x}`)
        .join('; ')
    process.stdout.write(
      formatTable(
        ['backend', 'available', 'why not / what it is'],
        rows.map((r) => [
          r.name,
          r.available ? 'yes' : 'no',
          r.available ? [r.description, facts(r.name)].filter((x) => x !== '').join('; ') : (r.reason ?? ''),
        ]),
      ) + '\n',
    )
    return 0
  },
})
