/**
 * Read an AWS CLI v2 argv exactly as the CLI does (awscli/clidriver.py, argparser.py, customizations/commands.py):
 * 1. the main parser takes the global options from anywhere in the argv (exact, `--opt=value`, unambiguous
 *    prefixes of the global options only) and the first free word as the command;
 * 2. a service takes the first free word of what is left as the operation;
 * 3. a customization command with subcommands takes its subcommand the same way (first occurrence removed);
 * 4. the operation's own parser reads its parameters (prefixes of its own options, `--x`/`--no-x` last wins);
 *    a lone or trailing `help` shows help and makes no call;
 * 5. `--cli-input-json`/`--cli-input-yaml` (inline or file://, `~` then `$VAR` expanded) fill every parameter
 *    not given on the command line.
 * Anything the CLI would reject, or that av cannot read with certainty, is listed in `problems`.
 */
import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import path from 'node:path'

import type {ParamValue, ParsedArgv} from './types.js'

import {
  type ArgAction,
  type ArgParse,
  parseKnownArgs,
  type ParserSpec,
  positionalsFrom,
  specFromOptions,
} from './argparse.js'
import {awsCommandTree, type CommandNode, type CommandTree, kebabOf} from './aws-commands.js'

export interface ParseDeps {
  /** The environment the AWS CLI will run with (for AWS_PROFILE and `$VAR` in file:// paths). */
  env: NodeJS.ProcessEnv
  /** The HOME the AWS CLI will expand `~` with. */
  home: string
  readFile?: (p: string) => string
  tree?: CommandTree
}

export interface ParsedCommand extends ParsedArgv {
  /** The command words as the CLI resolved them: ["ssm", "get-parameter"], ["codecommit", "credential-helper", "get"]. */
  path: string[]
  /** Why no AWS call is made (help, --generate-cli-skeleton, --version), or null. */
  noCall: null | string
  /** Whether the service / the command path is known to the CLI model av was built from. */
  knownService: boolean
  knownCommand: boolean
  /** Words the CLI would reject as unknown options (it errors before any call); kept for the sensitive reading. */
  unknownOptions: string[]
  /** Option names an ambiguous prefix could mean (the CLI errors; av reads the sensitive meaning). */
  ambiguousOptions: string[]
  /** Local files the CLI will read for parameter values (file://, fileb://), expanded as the CLI expands them. */
  files: string[]
  /** Parameters filled from --cli-input-json/--cli-input-yaml (not given on the command line). */
  fromInput: string[]
}

const FILE_PREFIXES = ['file://', 'fileb://']

/** The YAML parser loads only for --cli-input-yaml: it costs more start-up time than the rest of the gate. */
function parseYaml(text: string): unknown {
  const yaml = createRequire(import.meta.url)('yaml') as typeof import('yaml')
  return yaml.parse(text)
}

/** os.path.expanduser then os.path.expandvars, as awscli/paramfile.py does. Null when `~user` is used. */
export function expandPath(raw: string, env: NodeJS.ProcessEnv, home: string): null | string {
  let p = raw
  if (p.startsWith('~')) {
    const slash = p.indexOf('/')
    const user = slash === -1 ? p.slice(1) : p.slice(1, slash)
    if (user) return null
    const base = env.HOME ?? home
    p = slash === -1 ? base : base.replace(/\/+$/, '') + p.slice(slash) || '/'
  }

  // posixpath.expandvars: $name or ${name}; unknown names are left as they are.
  return p.replaceAll(/\$(\w+|\{[^}]*\})/g, (whole, name: string) => {
    const key = name.startsWith('{') ? name.slice(1, -1) : name
    const value = env[key]
    return value === undefined ? whole : value
  })
}

function profileOf(globals: Record<string, ParamValue>, env: NodeJS.ProcessEnv): string {
  const flag = globals.profile
  if (typeof flag === 'string') return flag
  return env.AWS_PROFILE || env.AWS_DEFAULT_PROFILE || 'default'
}

// Parser specs are immutable: build each once per tree / node.
const mainSpecs = new WeakMap<CommandTree, ParserSpec>()
const nodeSpecs = new WeakMap<CommandNode, {own?: ParserSpec; probe?: ParserSpec; service?: ParserSpec}>()

function mainSpec(tree: CommandTree): ParserSpec {
  let spec = mainSpecs.get(tree)
  if (!spec) {
    const choices = new Set(['help', ...tree.names])
    spec = specFromOptions(tree.globals, [{choices, key: 'command', kind: ':'}])
    mainSpecs.set(tree, spec)
  }

  return spec
}

function buildNodeSpec(node: CommandNode, which: 'own' | 'probe' | 'service'): ParserSpec {
  if (which === 'service') {
    const ops = new Set(['help', ...Object.keys(node.s ?? {})])
    return {options: new Map(), positionals: [{choices: ops, key: 'operation', kind: ':'}]}
  }

  const positionals = [...positionalsFrom(node.p), ...subcommandAction(node)]
  if (which === 'own' && node.t === 'op') positionals.push({key: 'help', kind: '?'})
  return specFromOptions(node.o, positionals)
}

function nodeSpec(node: CommandNode, which: 'own' | 'probe' | 'service'): ParserSpec {
  let specs = nodeSpecs.get(node)
  if (!specs) {
    specs = {}
    nodeSpecs.set(node, specs)
  }

  specs[which] ??= buildNodeSpec(node, which)
  return specs[which]
}

/** Options keyed by the option name the user meant; a later option on the same parameter replaces earlier ones. */
function globalsFrom(parse: ArgParse, spec: ParserSpec): Record<string, ParamValue> {
  const globals: Record<string, ParamValue> = {}
  const byKey = new Map<string, string>()
  for (const option of parse.given) {
    const action = spec.options.get(option)!
    const name = option.slice(2)
    const previous = byKey.get(action.key)
    if (previous && previous !== name) delete globals[previous]
    byKey.set(action.key, name)
    // Keyed by the option the user meant, so `--no-verify-ssl` reads as given (true), not as verify-ssl = false.
    globals[name] = action.kind === '~' ? true : parse.values.get(action.key)!
  }

  return globals
}

function emptyParse(env: NodeJS.ProcessEnv): ParsedCommand {
  return {
    ambiguousOptions: [],
    files: [],
    fromInput: [],
    globals: {},
    knownCommand: false,
    knownService: false,
    noCall: null,
    operation: null,
    params: {},
    path: [],
    problems: [],
    profile: profileOf({}, env),
    service: null,
    unknownOptions: [],
  }
}

/** Read unknown leftovers the way a generic `--name value` reader would (for the rules' sensitive reading). */
function looseParams(extras: string[], params: Record<string, ParamValue>, unknown: string[]): void {
  unknown.push(...extras)
  for (let i = 0; i < extras.length; i++) {
    const token = extras[i]!
    if (!token.startsWith('--') || token === '--') continue
    const eq = token.indexOf('=')
    const name = token.slice(2, eq === -1 ? undefined : eq)
    let value: ParamValue = true
    if (eq !== -1) value = token.slice(eq + 1)
    else if (i + 1 < extras.length && !extras[i + 1]!.startsWith('--')) value = extras[++i]!
    if (!(name in params)) params[name] = value
  }
}

function subcommandAction(node: CommandNode): ArgAction[] {
  return node.s ? [{choices: new Set(Object.keys(node.s)), key: 'subcommand', kind: '?'}] : []
}

function loadCliInput(
  result: ParsedCommand,
  node: CommandNode,
  explicit: Set<string>,
  deps: ParseDeps,
  readFile: (p: string) => string,
): void {
  const json = result.params['cli-input-json']
  const yaml = result.params['cli-input-yaml']
  if (json === undefined && yaml === undefined) return
  if (json !== undefined && yaml !== undefined) {
    result.problems.push('only one --cli-input-* parameter may be given (the CLI refuses both)')
  }

  const flag = json === undefined ? '--cli-input-yaml' : '--cli-input-json'
  const raw = json ?? yaml
  if (typeof raw !== 'string') {
    result.problems.push(`${flag} has no value`)
    return
  }

  let text = raw
  const prefix = FILE_PREFIXES.find((p) => raw.startsWith(p))
  if (prefix) {
    const file = expandPath(raw.slice(prefix.length), deps.env, deps.home)
    if (file === null) {
      result.problems.push(`${flag} names a file under another user's home (${raw}) that av does not resolve`)
      return
    }

    try {
      text = readFile(file)
    } catch {
      result.problems.push(`${flag} file ${file} cannot be read, so its parameters are unknown`)
      return
    }
  }

  let doc: unknown
  try {
    doc = json === undefined ? parseYaml(text) : JSON.parse(text)
  } catch {
    result.problems.push(`${flag} is not valid ${json === undefined ? 'YAML' : 'JSON'}`)
    return
  }

  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    result.problems.push(`${flag} is not a map of parameters`)
    return
  }

  for (const [member, value] of Object.entries(doc as Record<string, unknown>)) {
    const key = node.m?.[member] ?? kebabOf(member)
    // The CLI adds input values only for parameters not given on the command line.
    if (explicit.has(key) || key in result.params) continue
    result.params[key] = toParamValue(value)
    result.fromInput.push(key)
  }
}

function toParamValue(value: unknown): ParamValue {
  if (typeof value === 'boolean' || typeof value === 'string') return value
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[]
  return JSON.stringify(value) ?? ''
}

function collectFiles(result: ParsedCommand, deps: ParseDeps): void {
  for (const value of Object.values(result.params)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v !== 'string') continue
      const prefix = FILE_PREFIXES.find((p) => v.startsWith(p))
      if (prefix) result.files.push(expandPath(v.slice(prefix.length), deps.env, deps.home) ?? v.slice(prefix.length))
    }
  }
}

/** Parse an AWS CLI argv (the words after `aws`; a leading `aws` word is accepted and dropped). */
export function parseAwsArgv(argv: string[], deps: ParseDeps): ParsedCommand {
  const tree = deps.tree ?? awsCommandTree()
  const readFile = deps.readFile ?? ((p: string) => readFileSync(p, 'utf8'))
  const words = argv[0] === 'aws' || (argv[0]?.endsWith('/aws') ?? false) ? argv.slice(1) : [...argv]
  const result = emptyParse(deps.env)

  // 1. The main parser: global options from anywhere, the first free word is the command.
  const spec = mainSpec(tree)
  const main = parseKnownArgs(spec, words)
  result.globals = globalsFrom(main, spec)
  result.profile = profileOf(result.globals, deps.env)
  for (const a of main.ambiguous) result.ambiguousOptions.push(...a.matches.map((m) => m.slice(2)))
  const command = main.positionals.get('command')
  if (typeof command === 'string') result.service = command

  if (result.globals.version === true && main.error === null) {
    result.noCall = 'aws --version prints the version'
    return result
  }

  // An unknown command word is reported as an unknown service below, not as an unreadable argv.
  if (main.error !== null && !main.error.startsWith('argument command: invalid choice')) {
    result.problems.push(`the AWS CLI rejects this command line (${main.error})`)
  }

  if (result.service === null) {
    if (main.error === null) result.noCall = 'no command given (the CLI prints its usage)'
    return result
  }

  if (result.service === 'help') {
    result.path.push('help')
    result.knownService = true
    result.knownCommand = true
    result.noCall = 'help'
    return result
  }

  const top = tree.command(result.service)
  result.path.push(result.service)
  if (!top) {
    looseParams(main.extras, result.params, result.unknownOptions)
    result.operation = main.extras.find((w) => !w.startsWith('-')) ?? null
    return result
  }

  result.knownService = true
  let node: CommandNode = top
  let rest = main.extras

  // 2./3. Walk down services and customization subcommands.
  for (;;) {
    if (node.t === 'svc') {
      const parse = parseKnownArgs(nodeSpec(node, 'service'), rest)
      const op = parse.positionals.get('operation')
      if (typeof op !== 'string') {
        if (parse.error === null) result.noCall = 'no operation given (the CLI prints its usage)'
        else result.problems.push(`the AWS CLI rejects this command line (${parse.error})`)
        return result
      }

      result.operation ??= op
      result.path.push(op)
      if (op === 'help') {
        result.knownCommand = true
        result.noCall = 'help'
        return result
      }

      const next: CommandNode | undefined = node.s?.[op]
      if (!next) {
        looseParams(parse.extras, result.params, result.unknownOptions)
        return result
      }

      node = next
      rest = parse.extras
      continue
    }

    if (node.s && node.t !== 'other') {
      const probe = rest.length === 1 && rest[0] === 'help' ? null : parseKnownArgs(nodeSpec(node, 'probe'), rest)
      const sub = probe?.positionals.get('subcommand')
      if (probe && probe.error === null && typeof sub === 'string') {
        const index = rest.indexOf(sub)
        rest = [...rest.slice(0, index), ...rest.slice(index + 1)]
        if (result.operation === null) result.operation = sub
        result.path.push(sub)
        node = node.s[sub]!
        continue
      }
    }

    break
  }

  result.knownCommand = node.t !== 'other'
  if (node.t === 'other') {
    result.problems.push(`av does not know how the CLI parses "${result.path.join(' ')}"`)
    return result
  }

  // 4. The command's own parser.
  if (rest.length === 1 && rest[0] === 'help') {
    result.noCall = 'help'
    return result
  }

  const parse = parseKnownArgs(nodeSpec(node, 'own'), rest)
  const explicit = new Set<string>()
  for (const [key, value] of parse.values) {
    result.params[key] = value
    explicit.add(key)
  }

  for (const [key, value] of parse.positionals) {
    if (key === 'help' || key === 'subcommand' || value === null) continue
    result.params[key] = value
  }

  for (const a of parse.ambiguous) result.ambiguousOptions.push(...a.matches.map((m) => m.slice(2)))
  if (parse.error !== null) result.problems.push(`the AWS CLI rejects this command line (${parse.error})`)
  const extras = [...parse.extras]
  const help = parse.positionals.get('help')
  if (help === 'help') {
    result.noCall = 'help'
    return result
  }

  if (typeof help === 'string') extras.push(help)
  looseParams(extras, result.params, result.unknownOptions)

  const skeleton = result.params['generate-cli-skeleton']
  if (node.t === 'op' && skeleton !== undefined && parse.error === null) {
    result.noCall = `--generate-cli-skeleton ${String(skeleton)} prints a skeleton without calling AWS`
  }

  // 5. --cli-input-json / --cli-input-yaml.
  if (node.t === 'op' && result.noCall === null) loadCliInput(result, node, explicit, deps, readFile)
  collectFiles(result, deps)
  return result
}

/** Resolve a file path the way the CLI's working directory would (used by callers that display files). */
export function displayPath(p: string, cwd: string): string {
  return path.resolve(cwd, p)
}
