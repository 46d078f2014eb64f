/**
 * The one place oclif meets av's errors: every AvError becomes oclif's error with av's exit code and a
 * "Try this:" line; `--json` is enabled on every non-streaming command through `enableJsonFlag`.
 */
import {Command, Errors} from '@oclif/core'

import {AvError, EXIT, formatError} from './lib/core/errors.js'

export abstract class AvCommand extends Command {
  static enableJsonFlag = true

  protected async catch(error: Error & {exitCode?: number}): Promise<unknown> {
    if (error instanceof AvError) {
      if (this.jsonEnabled()) {
        this.logJson({error: {code: error.code, message: error.message, suggestion: error.suggestion ?? null}})
        this.exit(error.exit)
      }

      const [message, ...rest] = formatError(error).replace(/^av: /, '').split('\n')
      const suggestion = rest.join('\n').replace(/^Try this: /, '')
      this.error(message!, {exit: error.exit, ...(suggestion ? {suggestions: [suggestion]} : {})})
    }

    // oclif's own parse errors (unknown flag, missing arg) are usage errors.
    if (error instanceof Errors.CLIError && error.oclif?.exit === 2) this.error(error.message, {exit: EXIT.usage})
    return super.catch(error)
  }
}
