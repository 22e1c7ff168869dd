/** `polyak playground`: the playground page on 127.0.0.1. @module cli/commands/playground */
import { defineCommand } from '../args.js'

export const playgroundCommand = defineCommand({
  name: 'playground',
  usage: 'polyak playground [--port N] [--isolate]',
  summary: 'serve the playground page on 127.0.0.1: BN vs EMAN teacher, WeightAlign sweep and the laws in the browser',
  flags: {
    port: { type: 'int', min: 0, max: 65535, value: 'N', default: 8080, help: 'TCP port (0 picks a free one)' },
    isolate: { type: 'boolean', help: 'send COOP/COEP headers (cross-origin isolation: threaded wasm)' },
  },
  run: async (v) => {
    const { servePlayground } = await import('../playground.js')
    const { server, url } = await servePlayground({ port: v.port, isolate: v.isolate })
    process.stdout.write(`polyak playground: ${url}${v.isolate ? ' (cross-origin isolated)' : ''}\nCtrl-C stops it.\n`)
    await new Promise<void>((resolve) => {
      const close = (): void => {
        server.close()
        resolve()
      }
      process.once('SIGINT', close)
      process.once('SIGTERM', close)
    })
    return 0
  },
})
