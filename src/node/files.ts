/**
 * Writing files so that a reader never sees half of one: the content goes to a temp file in the
 * same directory, is flushed to disk, and is renamed over the target (rename is atomic within a
 * file system). The temp file is removed when any step fails.
 *
 * @module node/files
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { open, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'

/**
 * Writes `content` to `path` atomically and durably: `path.tmp-PID-TIME` is written and fsynced,
 * renamed to `path`, and the directory is fsynced so the rename itself survives a power loss. On
 * failure the temp file is removed and the error is rethrown; `path` keeps its previous content.
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
  await syncDirectory(dirname(path))
}

/** fsync of a directory (where the platform allows opening one; Windows does not, and needs none). */
const syncDirectory = async (dir: string): Promise<void> => {
  let handle
  try {
    handle = await open(dir, 'r')
  } catch {
    return
  }
  try {
    await handle.sync()
  } catch {
    // some file systems refuse fsync on a directory; the rename is still atomic there
  } finally {
    await handle.close()
  }
}

/** `writeAtomic`, synchronously (temp file, fsync, rename); for one-off caches written before any work. */
export const writeAtomicSync = (path: string, content: Uint8Array): void => {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`
  try {
    const fd = openSync(tmp, 'w')
    try {
      writeSync(fd, content)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
  } catch (e) {
    rmSync(tmp, { force: true })
    throw e
  }
}
