/**
 * Writing files so that a reader never sees half of one: the content goes to a temp file in the
 * same directory, is flushed to disk, and is renamed over the target (rename is atomic within a
 * file system). The temp file is removed when any step fails.
 *
 * @module node/files
 */
import { open, rename, rm } from 'node:fs/promises'

/**
 * Writes `content` to `path` atomically: `path.tmp-PID-TIME` is written and fsynced, then renamed
 * to `path`. On failure the temp file is removed and the error is rethrown; `path` keeps its
 * previous content.
 *
 * @example
 * await writeAtomic('results.json', JSON.stringify(results))
 */
export const writeAtomic = async (path: string, content: string | Uint8Array): Promise<void> => {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`
  try {
    const handle = await open(tmp, 'w')
    try {
      await handle.writeFile(content)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(tmp, path)
  } catch (e) {
    await rm(tmp, { force: true })
    throw e
  }
}
