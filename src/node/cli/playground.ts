/**
 * `polyak playground`: serves the playground page (built into `dist/playground` by `npm run build`)
 * on 127.0.0.1. Static files only; `--isolate` adds the COOP/COEP headers that make the page
 * cross-origin isolated (tfjs then loads its threaded wasm build).
 *
 * @module cli/playground
 */
import { readFile, stat } from 'node:fs/promises'
import { type Server, createServer } from 'node:http'
import { extname, join, normalize, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.css': 'text/css',
  '.png': 'image/png',
}

/** The folder the build writes the playground to. */
export const playgroundRoot = (): string => fileURLToPath(new URL('../../../playground/', import.meta.url))

/** Options of the playground server. */
export interface PlaygroundOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one. */
  readonly port: number
  /** Send `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`. */
  readonly isolate: boolean
  /** Folder to serve (the built playground by default). */
  readonly root?: string
}

/** Starts the server; resolves with it and its URL once it listens. */
export const servePlayground = async (o: PlaygroundOptions): Promise<{ server: Server; url: string }> => {
  const root = o.root ?? playgroundRoot()
  try {
    await stat(join(root, 'index.html'))
  } catch {
    throw Object.assign(new Error(`the playground is not built (no ${join(root, 'index.html')}): run npm run build`), { code: 'ENOPLAYGROUND' })
  }
  const server = createServer((req, res) => {
    void (async () => {
      const headers: Record<string, string> = { 'Cache-Control': 'no-store' }
      if (o.isolate) {
        headers['Cross-Origin-Opener-Policy'] = 'same-origin'
        headers['Cross-Origin-Embedder-Policy'] = 'require-corp'
      }
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname)
      const file = normalize(join(root, path.endsWith('/') ? `${path}index.html` : path))
      if (!file.startsWith(root.endsWith(sep) ? root : root + sep) || (req.method !== 'GET' && req.method !== 'HEAD')) {
        res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 403 : 405, headers).end()
        return
      }
      try {
        const body = await readFile(file)
        res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': body.length })
        res.end(req.method === 'HEAD' ? undefined : body)
      } catch {
        res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found\n')
      }
    })()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : o.port
  return { server, url: `http://127.0.0.1:${port}/` }
}
