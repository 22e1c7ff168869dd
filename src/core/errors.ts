/**
 * Errors raised by polyak. Every error names what is at fault (a tree path, an argument, a backend)
 * and, where one exists, the fix, so a person can act on it without reading polyak's source.
 *
 * @module core/errors
 */

/** Machine-readable error kinds; `error.code` is one of these. */
export type PolyakErrorCode =
  | 'TREE_STRUCTURE'
  | 'SHAPE_MISMATCH'
  | 'DTYPE_MISMATCH'
  | 'DISPOSED_TENSOR'
  | 'INVALID_ARGUMENT'
  | 'INVALID_CONFIG'
  | 'UNKNOWN_BACKEND'
  | 'BACKEND_UNAVAILABLE'
  | 'NON_FINITE'
  | 'MISSING_PACKAGE'

/**
 * Base class of every error polyak throws or returns in an `Either`.
 *
 * `where` names the tree path or argument at fault (empty when the error concerns no single place).
 */
export class PolyakError extends Error {
  override readonly name: string = 'PolyakError'
  constructor(
    readonly code: PolyakErrorCode,
    message: string,
    readonly where: string = '',
  ) {
    super(message)
  }
}

/** Formats a shape as `[2,3]` (a scalar is `[]`). */
export const showShape = (shape: readonly number[]): string => `[${shape.join(',')}]`

/** Formats a tree path for messages; the root is shown as `<root>`. */
export const showPath = (path: string): string => (path === '' ? '<root>' : path)

/** Two trees differ in structure: a key or an index exists in one and not in the other. */
export class TreeStructureError extends PolyakError {
  override readonly name = 'TreeStructureError'
  constructor(path: string, detail: string) {
    super('TREE_STRUCTURE', `tree structure differs at '${showPath(path)}': ${detail}`, path)
  }
}

/** Two tensors that must have equal (or broadcast-compatible) shapes do not. */
export class ShapeMismatchError extends PolyakError {
  override readonly name = 'ShapeMismatchError'
  constructor(where: string, detail: string) {
    super('SHAPE_MISMATCH', `shape mismatch at '${showPath(where)}': ${detail}`, where)
  }
}

/** Two tensors that must have equal dtypes do not. */
export class DtypeMismatchError extends PolyakError {
  override readonly name = 'DtypeMismatchError'
  constructor(where: string, detail: string) {
    super('DTYPE_MISMATCH', `dtype mismatch at '${showPath(where)}': ${detail}`, where)
  }
}

/** A tensor was used after it had been disposed. */
export class DisposedTensorError extends PolyakError {
  override readonly name = 'DisposedTensorError'
  constructor(where: string) {
    super(
      'DISPOSED_TENSOR',
      `'${showPath(where)}' is a disposed tensor: it was freed (by dispose(), a driver that ` +
        `disposed the previous state, or a tf.tidy scope) before this use. Keep the state the ` +
        `driver returns, or clone a tensor you need to keep beyond one step.`,
      where,
    )
  }
}

/** An argument is outside its domain (an axis out of range, a negative size, ...). */
export class InvalidArgumentError extends PolyakError {
  override readonly name = 'InvalidArgumentError'
  constructor(where: string, detail: string) {
    super('INVALID_ARGUMENT', `invalid argument '${where}': ${detail}`, where)
  }
}

/** A backend name polyak does not know. */
export class UnknownBackendError extends PolyakError {
  override readonly name = 'UnknownBackendError'
  constructor(name: string, known: readonly string[]) {
    super('UNKNOWN_BACKEND', `unknown backend '${name}': known backends are ${known.join(', ')}`, 'backend')
  }
}

/** A known backend that cannot run here; the message says why and how to get it. */
export class BackendUnavailableError extends PolyakError {
  override readonly name = 'BackendUnavailableError'
  constructor(
    readonly backend: string,
    readonly reason: string,
  ) {
    super('BACKEND_UNAVAILABLE', `backend '${backend}' is unavailable: ${reason}`, 'backend')
  }
}

/** An optional package that the work at hand needs is not installed (or failed to load); the message says what to install. */
export class MissingPackageError extends PolyakError {
  override readonly name = 'MissingPackageError'
  constructor(pkg: string, hint: string, cause?: string) {
    super('MISSING_PACKAGE', cause === undefined ? hint : `${hint} (${cause})`, pkg)
  }
}

/** A non-finite value (NaN or ±Inf) appeared: training diverged, or a state was corrupted. `where` is the first such leaf. */
export class NonFiniteError extends PolyakError {
  override readonly name = 'NonFiniteError'
  constructor(
    readonly step: number,
    path: string,
    detail = '',
  ) {
    super('NON_FINITE', `non-finite value at step ${step} in '${showPath(path)}'${detail === '' ? '' : `: ${detail}`}`, path)
  }
}
