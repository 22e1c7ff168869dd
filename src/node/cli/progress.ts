/**
 * Progress on the terminal for long runs.
 *
 * @module cli/progress
 */

/** A progress bar on one terminal line (a plain line every 10% when stderr is not a terminal). */
export const progressBar = (label: string, total: number) => {
  const tty = process.stderr.isTTY === true
  let lastTenth = -1
  const t0 = Date.now()
  return {
    update: (done: number, extra = '') => {
      const frac = Math.min(1, done / total)
      const width = 24
      const filled = Math.round(frac * width)
      const eta = done > 0 ? (((Date.now() - t0) / done) * (total - done)) / 1000 : 0
      const line = `${label.padEnd(34)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(done).padStart(5)}/${total} ${extra} eta ${eta.toFixed(0)}s`
      if (tty) process.stderr.write(`\r${line}`.padEnd(110))
      else if (Math.floor(frac * 10) > lastTenth) {
        lastTenth = Math.floor(frac * 10)
        process.stderr.write(`${line}\n`)
      }
    },
    done: (summary: string) => {
      const line = `${label.padEnd(34)} done in ${((Date.now() - t0) / 1000).toFixed(1)}s  ${summary}`
      process.stderr.write(tty ? `\r${line}`.padEnd(110) + '\n' : `${line}\n`)
    },
  }
}
