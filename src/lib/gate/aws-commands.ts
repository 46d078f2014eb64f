/**
 * The AWS CLI's command tree (services, operations, customization commands and each one's options), generated
 * from the installed CLI by scripts/generate-aws-commands.py and committed as data. Nothing here reads the CLI
 * at run time.
 */
import {awsCli, awsCommands, awsGlobals} from './aws-commands.generated.js'

export interface CommandNode {
  /** svc: a service (operations below); op: an API operation; cmd: a customization command; other: unknown shape. */
  t: 'cmd' | 'op' | 'other' | 'svc'
  /** Options, space-separated, in the encoding described in argparse.ts specFromOptions. */
  o?: string
  /** Positionals, space-separated (`paths?`). */
  p?: string
  /** API member names whose option name is not the plain kebab-case of the member. */
  m?: Record<string, string>
  /** Subcommands (operations of a service, or a customization's own subcommands). */
  s?: Record<string, CommandNode>
}

export interface CommandTree {
  /** The CLI the tree was read from, e.g. "aws-cli/2.9.19". */
  cli: string
  globals: string
  /** Top-level command names (services and customizations such as `s3`, `configure`). */
  names: string[]
  /** One top-level command's subtree, or undefined when the CLI has no such command. */
  command(name: string): CommandNode | undefined
}

/** Undo the generator's compaction (shared option runs, `t` defaulting to op). */
function expand(text: string): CommandNode {
  const json = text
    .replaceAll('@I', ' cli-input-json: cli-input-yaml: generate-cli-skeleton?')
    .replaceAll('@P', ' starting-token: page-size: max-items:')
  return JSON.parse(json, (_key: string, value: unknown) => {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const node = value as Partial<CommandNode>
      if (typeof node.o === 'string' && node.t === undefined) node.t = 'op'
    }

    return value
  }) as CommandNode
}

/** A tree over plain objects (tests build small ones). */
export function commandTreeFrom(raw: {
  cli?: string
  commands: Record<string, CommandNode>
  globals: string
}): CommandTree {
  return {
    cli: raw.cli ?? 'test',
    command: (name) => (Object.hasOwn(raw.commands, name) ? raw.commands[name] : undefined),
    globals: raw.globals,
    names: Object.keys(raw.commands),
  }
}

let cached: CommandTree | undefined

export function awsCommandTree(): CommandTree {
  if (cached) return cached
  const parsed = new Map<string, CommandNode>()
  cached = {
    cli: awsCli,
    command(name) {
      if (!Object.hasOwn(awsCommands, name)) return
      let node = parsed.get(name)
      if (!node) {
        node = expand(awsCommands[name]!)
        parsed.set(name, node)
      }

      return node
    },
    globals: awsGlobals,
    names: Object.keys(awsCommands),
  }
  return cached
}

/** botocore's member-name → option-name transform for the common case (the generator lists the rest). */
export function kebabOf(member: string): string {
  return member
    .replaceAll(/(.)([A-Z][a-z]+)/g, '$1-$2')
    .replaceAll(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase()
}
