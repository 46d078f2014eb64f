/**
 * The AWS CLI's command tree (services, operations, customization commands and each one's options), generated
 * from the installed CLI by scripts/generate-aws-commands.py and committed as data: aws-commands.data, one command a
 * line, read when the gate first needs it and parsed one command at a time. A data file rather than a module: the
 * launcher then reads 1.3 MB of text instead of compiling it on every `aws` call. The build also writes an index of
 * that file (aws-commands.index.json: where each command's line is), so a built av reads only the index and the
 * one line an argv names. Nothing here reads the CLI at run time.
 */
import {closeSync, fstatSync, openSync, readFileSync, readSync} from 'node:fs'

import {AvError} from '../core/errors.js'

/**
 * Beside this module in src/ and dist/, and reached the same way from a bundled entry point in dist/lib/main/ (the
 * build copies it there; scripts/bundle.mjs).
 */
const DATA = new URL('../gate/aws-commands.data', import.meta.url)
/** Written by the build beside the data (scripts/bundle.mjs); absent when running from src/. */
const INDEX = new URL('../gate/aws-commands.index.json', import.meta.url)
const NEWLINE = 0x0a
const TAB = 0x09
const HASH = 0x23

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

/** The data file's lines: `# comment`, `@cli<TAB>…`, `@globals<TAB>…`, then `<command><TAB><compacted JSON>`. */
export interface CommandData {
  cli: string
  globals: string
  names: string[]
  /** A command's compacted JSON, sliced out of the text only when asked for. */
  text(name: string): string | undefined
}

/**
 * Index the data without decoding it: each command's line is found once in the bytes and decoded only when an argv
 * names it. The data is ASCII (the generator escapes anything else), so latin1 decodes it as it is.
 */
export function parseCommandData(data: Buffer): CommandData {
  return dataThrough(indexCommandData(data), (start, end) => data.toString('latin1', start, end))
}

/** Commands found through `index`, each line's text read by `slice` when asked for. */
function dataThrough(index: CommandIndex, slice: (start: number, end: number, name: string) => string): CommandData {
  return {
    cli: index.cli,
    globals: index.globals,
    names: Object.keys(index.lines),
    text(name) {
      const at = Object.hasOwn(index.lines, name) ? index.lines[name] : undefined
      return at && slice(at[0], at[1], name)
    },
  }
}

/** Where each command's line is in the data (byte offsets of its JSON), and the size the offsets are valid for. */
export interface CommandIndex {
  cli: string
  globals: string
  lines: Record<string, [number, number]>
  size: number
}

export function indexCommandData(data: Buffer): CommandIndex {
  const lines: Record<string, [number, number]> = {}
  let cli = ''
  let globals = ''
  for (let start = 0; start < data.length;) {
    let end = data.indexOf(NEWLINE, start)
    if (end === -1) end = data.length
    if (end > start && data[start] !== HASH) {
      const tab = data.indexOf(TAB, start)
      if (tab <= start || tab > end) {
        const line = data.toString('latin1', start, Math.min(end, start + 40))
        throw new AvError('internal', `the AWS CLI command data has a line without a name: ${line}`)
      }

      const name = data.toString('latin1', start, tab)
      if (name === '@cli') cli = data.toString('latin1', tab + 1, end)
      else if (name === '@globals') globals = data.toString('latin1', tab + 1, end)
      else lines[name] = [tab + 1, end]
    }

    start = end + 1
  }

  if (!cli || Object.keys(lines).length === 0) {
    throw new AvError('internal', 'the AWS CLI command data is empty or has no @cli line')
  }

  return {cli, globals, lines, size: data.length}
}

/**
 * The data through its index: the index, then one read of the named line. Null when there is no index, or it was
 * made for data of another size (then the caller reads the whole file).
 */
export function indexedCommandData(dataFile: URL | string, indexText: null | string): CommandData | null {
  if (indexText === null) return null
  const index = JSON.parse(indexText) as CommandIndex
  const fd = openSync(dataFile, 'r')
  try {
    if (fstatSync(fd).size !== index.size) return null
  } finally {
    closeSync(fd)
  }

  return dataThrough(index, (start, end, name) => {
    const bytes = Buffer.alloc(end - start)
    const read = openSync(dataFile, 'r')
    try {
      if (readSync(read, bytes, 0, bytes.length, start) !== bytes.length) {
        throw new AvError('internal', `the AWS CLI command data ended inside ${name}'s line`)
      }
    } finally {
      closeSync(read)
    }

    return bytes.toString('latin1')
  })
}

function readIndex(): null | string {
  try {
    return readFileSync(INDEX, 'utf8')
  } catch {
    return null
  }
}

let cached: CommandTree | undefined

export function awsCommandTree(): CommandTree {
  if (cached) return cached
  const data = indexedCommandData(DATA, readIndex()) ?? parseCommandData(readFileSync(DATA))
  const parsed = new Map<string, CommandNode>()
  cached = {
    cli: data.cli,
    command(name) {
      let node = parsed.get(name)
      if (!node) {
        const text = data.text(name)
        if (text === undefined) return
        node = expand(text)
        parsed.set(name, node)
      }

      return node
    },
    globals: data.globals,
    names: data.names,
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
