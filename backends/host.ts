/**
 * Where polyak runs, so that an error can name the fix that fits: a package or a driver in Node,
 * a browser or a flag in a browser.
 *
 * @module backends/host
 */

/** `node` when running under Node.js, `browser` otherwise (a page or a worker). */
export type Host = 'node' | 'browser'

/** The host this code runs on. */
export const host = (): Host => {
  const g = globalThis as { process?: { versions?: { node?: string } } }
  return g.process?.versions?.node === undefined ? 'browser' : 'node'
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? ''

/**
 * The reason a backend package could not be imported, with the fix for this host: in Node, the
 * `npm install` that brings it; in a browser, that the app must bundle it (or import it before
 * polyak's descriptor tries).
 */
export const missingPackage = (pkg: string, e: unknown): string =>
  host() === 'node'
    ? `the package '${pkg}' could not be loaded (${messageOf(e)}): npm install ${pkg}`
    : `the package '${pkg}' could not be loaded (${messageOf(e)}): install it (npm install ${pkg}) and let your bundler include it, ` +
      `or import '${pkg}' in your app before activating the backend`
