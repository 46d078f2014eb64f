/**
 * The part of Python's argparse (3.11) that decides what the AWS CLI sees: which tokens are options (exact
 * names, `--opt=value`, unambiguous prefixes), how many values each option and positional takes, and what is
 * left over ("extras", which the CLI passes on or rejects as unknown options). Ported rule for rule from
 * argparse._parse_known_args so that av reads an argv exactly as the CLI will.
 */

/** `:` one value, `+` one or more, `*` zero or more, `?` optional value, `!` store_true, `~` store_false, `0` other flag. */
export type Nargs = '!' | '*' | '+' | '0' | ':' | '?' | '~'

export interface ArgAction {
  /** The parameter the action sets (the positive option name without dashes). */
  key: string
  kind: Nargs
  /** For positionals that name a command: the valid choices. */
  choices?: Set<string>
  /** The value an option with `?` takes when given no value. */
  constValue?: string
}

export interface ParserSpec {
  /** Option strings (`--with-decryption`) to actions. */
  options: Map<string, ArgAction>
  positionals: ArgAction[]
}

export type ArgValue = boolean | string | string[]

export interface ArgParse {
  /** Option values by key, in the order last set (last one wins, as in argparse). */
  values: Map<string, ArgValue>
  /** The option strings that were given, fully resolved (`--with-decryption`). */
  given: string[]
  positionals: Map<string, null | string | string[]>
  extras: string[]
  /** Set when argparse would stop with an error (the CLI exits 252 and makes no call). */
  error: null | string
  /** Ambiguous prefixes: the token and every option it could mean. */
  ambiguous: Array<{matches: string[]; token: string}>
}

type OptionTuple = {action: ArgAction | null; explicit: null | string; option: string}

const NEGATIVE_NUMBER = /^-\d+$|^-\d*\.\d+$/

function nargsPattern(kind: Nargs, optional: boolean): string {
  let pattern: string
  switch (kind) {
    case '*': {
      pattern = '(-*[A-]*)'
      break
    }

    case '+': {
      pattern = '(-*A[A-]*)'
      break
    }

    case ':': {
      pattern = '(-*A-*)'
      break
    }

    case '?': {
      pattern = '(-*A?-*)'
      break
    }

    default: {
      pattern = '(-*-*)'
    }
  }

  return optional ? pattern.replaceAll('-*', '').replaceAll('-', '') : pattern
}

const regexCache = new Map<string, RegExp>()
function anchored(source: string): RegExp {
  let re = regexCache.get(source)
  if (!re) {
    re = new RegExp('^' + source)
    regexCache.set(source, re)
  }

  return re
}

/** argparse drops one `--` from the strings an action takes. */
function valuesOf(strings: string[]): string[] {
  const copy = [...strings]
  const dash = copy.indexOf('--')
  if (dash !== -1) copy.splice(dash, 1)
  return copy
}

/** Parse `args` with argparse's parse_known_args semantics. Never throws. */
export function parseKnownArgs(spec: ParserSpec, args: string[]): ArgParse {
  const result: ArgParse = {
    values: new Map(),
    given: [],
    positionals: new Map(),
    extras: [],
    error: null,
    ambiguous: [],
  }
  const fail = (message: string) => {
    result.error ??= message
  }

  function parseOptional(arg: string): null | OptionTuple {
    if (!arg || arg[0] !== '-') return null
    const exact = spec.options.get(arg)
    if (exact) return {action: exact, explicit: null, option: arg}
    if (arg.length === 1) return null
    const eq = arg.indexOf('=')
    if (eq !== -1) {
      const head = arg.slice(0, eq)
      const action = spec.options.get(head)
      if (action) return {action, explicit: arg.slice(eq + 1), option: head}
    }

    if (arg[1] === '-') {
      const prefix = eq === -1 ? arg : arg.slice(0, eq)
      const explicit = eq === -1 ? null : arg.slice(eq + 1)
      const matches = [...spec.options.keys()].filter((o) => o.startsWith(prefix))
      if (matches.length > 1) {
        result.ambiguous.push({matches, token: arg})
        fail(`ambiguous option: ${arg} could match ${matches.join(', ')}`)
        return {action: null, explicit: null, option: arg}
      }

      if (matches.length === 1) return {action: spec.options.get(matches[0]!)!, explicit, option: matches[0]!}
    }

    if (NEGATIVE_NUMBER.test(arg)) return null
    if (arg.includes(' ')) return null
    return {action: null, explicit: null, option: arg}
  }

  const optionAt = new Map<number, OptionTuple>()
  let pattern = ''
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--') {
      pattern += '-' + 'A'.repeat(args.length - i - 1)
      break
    }

    const tuple = parseOptional(args[i]!)
    if (tuple) optionAt.set(i, tuple)
    pattern += tuple ? 'O' : 'A'
  }

  function takeOption(action: ArgAction, strings: string[], option: string): void {
    result.given.push(option)
    const values = valuesOf(strings)
    let value: ArgValue
    switch (action.kind) {
      case '0':
      case '!': {
        value = true
        break
      }

      case ':': {
        value = values[0] ?? ''
        break
      }

      case '?': {
        value = values[0] ?? action.constValue ?? true
        break
      }

      case '~': {
        value = false
        break
      }

      default: {
        value = values
      }
    }

    // Last one wins; re-insert so iteration order follows the command line.
    result.values.delete(action.key)
    result.values.set(action.key, value)
  }

  function consumeOptional(start: number): number {
    const {action, explicit, option} = optionAt.get(start)!
    if (!action) {
      result.extras.push(args[start]!)
      return start + 1
    }

    if (explicit !== null) {
      const takes = anchored(nargsPattern(action.kind, true)).exec('A')
      if (takes && takes[1]!.length === 1) {
        takeOption(action, [explicit], option)
      } else {
        fail(`argument ${option}: ignored explicit argument '${explicit}'`)
      }

      return start + 1
    }

    const match = anchored(nargsPattern(action.kind, true)).exec(pattern.slice(start + 1))
    if (!match) {
      fail(`argument ${option}: expected ${action.kind === '+' ? 'at least one argument' : 'one argument'}`)
      return start + 1
    }

    const count = match[1]!.length
    takeOption(action, args.slice(start + 1, start + 1 + count), option)
    return start + 1 + count
  }

  const positionals = [...spec.positionals]
  function consumePositionals(start: number): number {
    const selected = pattern.slice(start)
    let counts: number[] = []
    for (let i = positionals.length; i > 0; i--) {
      const re = new RegExp(
        '^' +
          positionals
            .slice(0, i)
            .map((p) => nargsPattern(p.kind, false))
            .join(''),
      )
      const match = re.exec(selected)
      if (match) {
        counts = match.slice(1).map((g) => g!.length)
        break
      }
    }

    let index = start
    for (const [i, count] of counts.entries()) {
      const action = positionals[i]!
      const values = valuesOf(args.slice(index, index + count))
      index += count
      const value: null | string | string[] = action.kind === '*' || action.kind === '+' ? values : (values[0] ?? null)
      if (typeof value === 'string' && action.choices && !action.choices.has(value)) {
        fail(`argument ${action.key}: invalid choice: '${value}'`)
      }

      result.positionals.set(action.key, value)
    }

    positionals.splice(0, counts.length)
    return index
  }

  let start = 0
  const optionIndices = [...optionAt.keys()]
  const maxOption = optionIndices.length > 0 ? Math.max(...optionIndices) : -1
  while (start <= maxOption) {
    const nextOption = Math.min(...optionIndices.filter((i) => i >= start))
    if (start !== nextOption) {
      const end = consumePositionals(start)
      if (end > start) {
        start = end
        continue
      }

      start = end
    }

    if (!optionAt.has(start)) {
      result.extras.push(...args.slice(start, nextOption))
      start = nextOption
    }

    start = consumeOptional(start)
  }

  const stop = consumePositionals(start)
  result.extras.push(...args.slice(stop))
  return result
}

/** Build a parser spec from the generated option list (`name:`, `with-decryption!`, `no-x~x`, …). */
export function specFromOptions(encoded: string | undefined, positionals: ArgAction[] = []): ParserSpec {
  const options = new Map<string, ArgAction>()
  for (const entry of (encoded ?? '').split(' ')) {
    if (!entry) continue
    // Names and dests are [a-z0-9-]; the kind is one mark between them (`0` only ever ends the entry).
    const match = /^(.*?)(?:([!#*+:?~])([-0-9a-z]*)|0)$/.exec(entry)
    if (!match) continue
    const [, name, kind, dest] = match
    const action: ArgAction = {key: dest || name!, kind: kind === undefined || kind === '#' ? '0' : (kind as Nargs)}
    if (name === 'generate-cli-skeleton') action.constValue = 'input'
    options.set(`--${name}`, action)
  }

  return {options, positionals}
}

/** Positionals from the generated list (`paths?`, `varname:`). */
export function positionalsFrom(encoded: string | undefined): ArgAction[] {
  return (encoded ?? '')
    .split(' ')
    .filter(Boolean)
    .map((entry) => ({key: entry.slice(0, -1), kind: entry.at(-1) as Nargs}))
}
