/**
 * The one place oclif meets av's errors: every AvError becomes oclif's error with av's exit code and its "Try this:"
 * line (`oclifError`, used by the hooks too); `--json` is enabled on every non-streaming command through
 * `enableJsonFlag`.
 */
import {Command, Errors} from '@oclif/core'

import {AvError, EXIT, reportOf} from './lib/core/errors.js'

/** `this.error`'s arguments for an AvError: its message (with a refusal's reason), exit code and what to do. */
export function oclifError(error: AvError): [string, {exit: number; suggestions?: string[]}] {
  const {message, suggestion} = reportOf(error)
  return [message, {exit: error.exit, ...(suggestion ? {suggestions: [suggestion]} : {})}]
}

export abstract class AvCommand extends Command {
  static enableJsonFlag = true

  protected async catch(error: Error & {exitCode?: number}): Promise<unknown> {
    if (error instanceof AvError) {
      if (this.jsonEnabled()) {
        this.logJson({error: {code: error.code, message: error.message, suggestion: error.suggestion ?? null}})
        this.exit(error.exit)
      }

      this.error(...oclifError(error))
    }

    // oclif's own parse errors (unknown flag, missing arg) are usage errors.
    if (error instanceof Errors.CLIError && error.oclif?.exit === 2) this.error(error.message, {exit: EXIT.usage})
    return super.catch(error)
  }
}
