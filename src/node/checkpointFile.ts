/**
 * Checkpoint files: a `CheckpointStore` on the file system, written atomically (`writeAtomic`).
 *
 * @module node/checkpointFile
 */
import { readFile } from 'node:fs/promises'
import type { CheckpointStore } from '../train/checkpoint.js'
import { writeAtomic } from './files.js'

/**
 * The checkpoint store of file `path`: `read` reads it as UTF-8, `write` replaces it atomically
 * (temp file in the same directory, fsync, rename), so a killed run leaves the previous checkpoint
 * or the new one, never half of one.
 *
 * @example
 * await runSemiSupervised(config, train, test, onProgress, { checkpoint: { store: checkpointFile('run.json'), every: 100 } })
 */
export const checkpointFile = (path: string): CheckpointStore => ({
  name: path,
  read: () => readFile(path, 'utf8'),
  write: (text) => writeAtomic(path, text),
})
