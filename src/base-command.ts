/**
 * The one place oclif meets av: a command's world comes from `world()` (the real one, built once per command by
 * world/context.ts; a test replaces the method to run the command in-process with fakes), what it prints goes
 * through that world's stdout, and every AvError becomes oclif's error with av's exit code and its "Try this:" line
 * (`oclifError`, used by the hooks too). `--json` is enabled on every non-streaming command through
 * `enableJsonFlag`.
 */
import {Command, Errors, ux} from '@oclif/core'
import {format, inspect} from 'node:util'

import {AvError, EXIT, reportOf} from './lib/core/errors.js'
import {type Context, realContext} from './lib/world/context.js'

/** `this.error`'s arguments for an AvError: its message (with a refusal's reason), exit code and what to do. */
export function oclifError(error: AvError): [string, {exit: number; suggestions?: string[]}] {
  const {message, suggestion} = reportOf(error)
  return [message, {exit: error.exit, ...(suggestion ? {suggestions: [suggestion]} : {})}]
}

export abstract class AvCommand extends Command {
  static enableJsonFlag = true
  private built?: Context

  /** The world this command runs in: built on first use, once. Tests override it (test/commands). */
  protected world(): Context {
    this.built ??= realContext()
    return this.built
  }

  /** oclif's log, written through the world's stdout (a test's capture in-process). */
  log(message: unknown = '', ...args: unknown[]): void {
    if (this.jsonEnabled()) return
    this.world().stdout.write(format(typeof message === 'string' ? message : inspect(message), ...args) + '\n')
  }

  /** oclif's `--json` document, written through the world's stdout. */
  logJson(json: unknown): void {
    this.world().stdout.write(ux.colorizeJson(json, {pretty: true, theme: this.config.theme?.json}) + '\n')
  }

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
