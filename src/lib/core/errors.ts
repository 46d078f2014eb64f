/**
 * One error type for everything av reports to a person, refusals included (a refusal is an AvError with a reason
 * code from refusal.ts), and one formatter for every "Try this:" line. The exit-code table lives here and nowhere
 * else; wrappers follow `env`/`timeout`: 125 av failed, 126 refused, 127 not found, otherwise the AWS CLI's own code.
 */
import {isRefusalReason, REFUSAL_HINTS, type RefusalReason} from './refusal.js'

export const EXIT = {
  ok: 0,
  /** `av doctor` found an exposure; `av log --verify` found a broken chain. */
  findings: 1,
  /** Bad usage or input that is not what the command expects. */
  usage: 2,
  /** av itself failed (store unavailable, file unreadable, internal error). */
  failed: 125,
  /** av refused (gate denied, approval missing, untrusted runtime, caller check failed). */
  refused: 126,
  /** The AWS CLI runtime was not found. */
  notFound: 127,
} as const

export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

export type ErrorCode =
  | 'audit-failed'
  | 'bad-input'
  | 'busy'
  | 'conflict'
  | 'denied'
  | 'internal'
  | 'needs-confirmation'
  | 'not-found'
  | 'not-root'
  | 'refused'
  | 'runtime-not-found'
  | 'runtime-untrusted'
  | 'store-corrupt'
  | 'store-unavailable'
  | 'sts-failed'
  | 'sudo'
  | 'usage'

const EXIT_BY_CODE: Record<ErrorCode, ExitCode> = {
  'audit-failed': EXIT.failed,
  'bad-input': EXIT.failed,
  busy: EXIT.failed,
  conflict: EXIT.failed,
  denied: EXIT.refused,
  internal: EXIT.failed,
  'needs-confirmation': EXIT.refused,
  'not-found': EXIT.failed,
  'not-root': EXIT.refused,
  refused: EXIT.refused,
  'runtime-not-found': EXIT.notFound,
  'runtime-untrusted': EXIT.refused,
  'store-corrupt': EXIT.failed,
  'store-unavailable': EXIT.failed,
  'sts-failed': EXIT.failed,
  sudo: EXIT.refused,
  usage: EXIT.usage,
}

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(EXIT_BY_CODE, value)
}

export interface AvErrorOptions {
  cause?: unknown
  exit?: ExitCode
  /**
   * The refusal reason this failure stands for when it stops a release (the helper's and root's `refused (<reason>)`
   * lines): `config-invalid` on a profile setting av cannot use, `not-stored` on a missing key. Set where the failure
   * is known; `reasonOf` reads it.
   */
  reason?: RefusalReason
  /** This error is a refusal (`refused (<reason>): …`): set by `refusal()`, never on a failure. */
  refusal?: boolean
  suggestion?: string
}

export class AvError extends Error {
  readonly code: ErrorCode
  readonly exit: ExitCode
  readonly reason?: RefusalReason
  /** A refusal: av said no for a reason it names (`refused (<reason>): …`), as opposed to av failing. */
  readonly refusal: boolean
  readonly suggestion?: string

  constructor(code: ErrorCode, message: string, options: AvErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'AvError'
    this.code = code
    this.exit = options.exit ?? EXIT_BY_CODE[code]
    this.reason = options.reason
    this.refusal = options.refusal === true && options.reason !== undefined
    this.suggestion = options.suggestion
  }
}

/**
 * A refusal with its reason code: what happened (`detail`) and what to do, by default the reason's line in
 * REFUSAL_HINTS. `usage` refusals exit 2, the rest 126.
 */
export function refusal(reason: RefusalReason, detail: string, options: {suggestion?: string} = {}): AvError {
  return new AvError(reason === 'usage' ? 'usage' : 'refused', detail, {
    reason,
    refusal: true,
    suggestion: options.suggestion ?? REFUSAL_HINTS[reason],
  })
}

/** The refusal reason an error stands for: its own, its code when that is a reason too, else `fallback`. */
export function reasonOf(error: unknown, fallback: RefusalReason): RefusalReason {
  if (!(error instanceof AvError)) return fallback
  if (error.reason) return error.reason
  return isRefusalReason(error.code) ? error.code : fallback
}

/**
 * `error` as a refusal: itself when it is one; otherwise a refusal with the reason it stands for (`reasonOf`), its
 * message, and its own hint (which is about this very failure, e.g. how to unlock this platform's keychain).
 */
export function asRefusal(error: unknown, fallback: RefusalReason): AvError {
  if (error instanceof AvError && error.refusal) return error
  const reason = reasonOf(error, fallback)
  const message = error instanceof Error ? error.message : String(error)
  return refusal(reason, message, {suggestion: error instanceof AvError ? error.suggestion : undefined})
}

/** What a person is told: the message (with `refused (<reason>): ` before a refusal's) and what to do next. */
export interface ErrorReport {
  message: string
  suggestion?: string
}

export function reportOf(error: unknown): ErrorReport {
  if (error instanceof AvError) {
    const message = error.refusal ? `refused (${error.reason}): ${error.message}` : error.message
    return error.suggestion ? {message, suggestion: error.suggestion} : {message}
  }

  // Unknown errors may carry library text; keep only the message (never a stack with values in it).
  return {message: `internal error: ${error instanceof Error ? error.message : String(error)}`}
}

/**
 * Format an error for stderr: `<program>: <message>`, plus a "Try this:" line when there is something to do. With
 * `oneLine`, the root entry points' and the helper's form: `<program>: <message>. <what to do>` on one line, the
 * form custody-client.ts reads back across the sudo boundary.
 */
export function formatError(error: unknown, options: {oneLine?: boolean; program?: string} = {}): string {
  const {message, suggestion} = reportOf(error)
  const program = options.program ?? 'av'
  if (!options.oneLine) return suggestion ? `${program}: ${message}\nTry this: ${suggestion}` : `${program}: ${message}`
  const line = message.replaceAll(/\s+/g, ' ').replace(/\.$/, '')
  return suggestion ? `${program}: ${line}. ${suggestion}` : `${program}: ${line}.`
}

export function exitCodeOf(error: unknown): ExitCode {
  return error instanceof AvError ? error.exit : EXIT.failed
}
