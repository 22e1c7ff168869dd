/**
 * A Redis server for the distributed tests: Debian's `redis-server` on a free loopback port, no
 * persistence, stopped by its pid. `POLYAK_REQUIRE_REDIS=1` (CI) makes a missing server fail the
 * suite; otherwise the suite is skipped with the reason printed.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { createServer } from 'node:net'

/** Why Redis cannot run here, or `undefined` when it can. */
export const redisMissing = (): string | undefined => {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  return r.status === 0 ? undefined : 'no redis-server on PATH (apt-get install redis-server)'
}

/** True when a missing Redis must fail the suite. */
export const redisRequired = (): boolean => process.env.POLYAK_REQUIRE_REDIS === '1'

/** A free TCP port on 127.0.0.1. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      const port = typeof a === 'object' && a !== null ? a.port : 0
      s.close(() => resolve(port))
    })
  })

/** Starts redis-server on a free loopback port; resolves once it accepts connections. */
export const startRedis = async (): Promise<{ url: string; port: number; stop: () => Promise<void> }> => {
  const port = await freePort()
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  const deadline = Date.now() + 10_000
  for (;;) {
    const ping = spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' })
    if (ping.stdout?.trim() === 'PONG') break
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`redis-server did not answer on port ${port} within 10 s`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}
