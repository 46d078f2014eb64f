import type {Context} from '../../../src/lib/world/context.js'

import {AvCommand} from '../../../src/base-command.js'

const REPO = new URL('../../../', import.meta.url).pathname

export interface CommandRun {
  /** oclif's exit code: 0, or what the command's error asked for. */
  exit: number
  /** The error's message and "Try this:" line, as oclif prints them. */
  error?: {message: string; suggestions: string[]}
  result: unknown
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a mixin's base must take any constructor arguments
type CommandClass = (new (...args: any[]) => AvCommand & {run(): Promise<unknown>}) & {
  run(argv?: string[], opts?: string): Promise<unknown>
}

/**
 * Run an av command in this process with `ctx` as its world: a subclass replaces `world()` (as gh's NewCmdX takes
 * its factory), oclif parses the argv, and what the command prints goes to the world's stdout (AvCommand.log).
 */
export async function runCommand(Command: CommandClass, argv: string[], ctx: Context): Promise<CommandRun> {
  class UnderTest extends Command {
    protected world(): Context {
      return ctx
    }
  }

  try {
    const result = await (UnderTest as unknown as CommandClass).run(argv, REPO)
    return {exit: 0, result}
  } catch (error) {
    const e = error as {message?: string; oclif?: {exit?: number}; suggestions?: string[]}
    return {
      error: {message: e.message ?? String(error), suggestions: e.suggestions ?? []},
      exit: e.oclif?.exit ?? 1,
      result: undefined,
    }
  }
}
