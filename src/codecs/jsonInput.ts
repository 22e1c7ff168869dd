/**
 * JSON that comes from outside (a spec, a config file, a checkpoint) checked before anything walks
 * it: no `__proto__`, `constructor` or `prototype` key (an assignment with such a key replaces an
 * object's prototype), no non-finite number (`1e999` parses to `Infinity`), no nesting deeper than a
 * limit (the walks that follow are recursive), and no text over a size limit. Errors name the path
 * and show at most `PREVIEW_CHARS` characters of the offending value.
 *
 * @module codecs/jsonInput
 */
import * as E from 'fp-ts/lib/Either.js'
import { PolyakError } from '../core/errors.js'

/** How much of a bad value an error message shows. */
export const PREVIEW_CHARS = 200

/** `value` as JSON for a message, cut to `max` characters (with the full length said). */
export const preview = (value: unknown, max = PREVIEW_CHARS): string => {
  let s: string
  if (value === undefined) return 'nothing'
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value)
  try {
    s = JSON.stringify(value) ?? String(value)
  } catch {
    s = String(value)
  }
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length} characters)`
}

/** Limits on JSON input. */
export interface JsonLimits {
  /** Largest text accepted, in bytes (UTF-8). */
  readonly maxBytes: number
  /** Deepest nesting of arrays and objects accepted. */
  readonly maxDepth: number
}

/** 64 MiB and 64 levels: far above any real spec or config, far below what exhausts memory or the stack. */
export const DEFAULT_JSON_LIMITS: JsonLimits = { maxBytes: 64 * 2 ** 20, maxDepth: 64 }

/** Keys that would reach an object's prototype when assigned. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])

/** JSON input that is malformed or outside the limits. */
export class JsonInputError extends PolyakError {
  override readonly name = 'JsonInputError'
  constructor(source: string, path: string, detail: string) {
    super('INVALID_ARGUMENT', `${source}${path === '' ? '' : `, field '${path}'`}: ${detail}`, path)
  }
}

const child = (path: string, key: string | number): string => (typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`)

/**
 * Checks a parsed JSON value without recursion: forbidden keys, non-finite numbers, depth. Returns
 * the first problem, naming its path.
 */
export const checkJsonValue = (value: unknown, source: string, limits: JsonLimits = DEFAULT_JSON_LIMITS): E.Either<JsonInputError, unknown> => {
  const stack: Array<{ v: unknown; path: string; depth: number }> = [{ v: value, path: '', depth: 0 }]
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop()!
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return E.left(new JsonInputError(source, path, `numbers must be finite, got ${String(v)} (a literal such as 1e999 overflows)`))
    } else if (v !== null && typeof v === 'object') {
      if (depth >= limits.maxDepth) return E.left(new JsonInputError(source, path, `nested deeper than ${limits.maxDepth} levels`))
      if (Array.isArray(v)) {
        for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: child(path, i), depth: depth + 1 })
      } else {
        for (const k of Object.keys(v)) {
          if (FORBIDDEN_KEYS.has(k))
            return E.left(new JsonInputError(source, child(path, k), `the key '${k}' is not allowed (it would reach an object's prototype)`))
          stack.push({ v: (v as Record<string, unknown>)[k], path: child(path, k), depth: depth + 1 })
        }
      }
    }
  }
  return E.right(value)
}

/** Parses `text` (named `source` in errors) as JSON and checks it with `checkJsonValue` and the size limit. */
export const parseJsonInput = (text: string, source: string, limits: JsonLimits = DEFAULT_JSON_LIMITS): E.Either<JsonInputError, unknown> => {
  // a UTF-16 length over the limit is over it in UTF-8 too; under it, count the bytes
  if (text.length > limits.maxBytes || new TextEncoder().encode(text).length > limits.maxBytes) {
    return E.left(new JsonInputError(source, '', `larger than the limit of ${limits.maxBytes} bytes (raise it with --max-input-mb)`))
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    return E.left(new JsonInputError(source, '', `not valid JSON: ${preview((e as Error).message)}`))
  }
  return checkJsonValue(value, source, limits)
}
