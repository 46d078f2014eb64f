/**
 * One error type for everything av reports to a person. The exit-code table lives here and nowhere else;
 * wrappers follow `env`/`timeout`: 125 av failed, 126 refused, 127 not found, otherwise the AWS CLI's own code.
 */
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

export class AvError extends Error {
  readonly code: ErrorCode
  readonly exit: ExitCode
  readonly suggestion?: string

  constructor(code: ErrorCode, message: string, options: {cause?: unknown; exit?: ExitCode; suggestion?: string} = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'AvError'
    this.code = code
    this.exit = options.exit ?? EXIT_BY_CODE[code]
    this.suggestion = options.suggestion
  }
}

/** Format an error for stderr: one line, plus a "Try this:" line when there is something to do. */
export function formatError(error: unknown): string {
  if (error instanceof AvError) {
    return error.suggestion ? `av: ${error.message}\nTry this: ${error.suggestion}` : `av: ${error.message}`
  }

  // Unknown errors may carry library text; keep only the message (never a stack with values in it).
  const message = error instanceof Error ? error.message : String(error)
  return `av: internal error: ${message}`
}

export function exitCodeOf(error: unknown): ExitCode {
  return error instanceof AvError ? error.exit : EXIT.failed
}
