/**
 * A minimal gate for `av run` until the real classifier (gate/classify.ts) and approver (approver.ts) land.
 * Same signatures as the real ones, so run-main.ts swaps them in one place. It fails closed on what it cannot
 * read: `configure`, `iam`, `sts` other than `get-caller-identity`, `--debug` (or a prefix of it), and transport
 * changes (`--endpoint-url` not allowed by the root policy, `--ca-bundle`, `--no-verify-ssl`) need approval.
 */
import type {Decision, Policy} from '../policy.js'
import type {ApprovalAnswer, ApprovalRequest, Category, GateDecision, ParamValue, ParsedArgv} from './types.js'

export interface ClassifyDeps {
  env: NodeJS.ProcessEnv
  home: string
  policy: Policy
  userDecisions?: Record<string, Decision>
  readFile?: (file: string) => string
}

/** Global options that take a value (the value is not a service or operation word). */
const VALUED_GLOBALS = new Set([
  'ca-bundle',
  'cli-binary-format',
  'cli-connect-timeout',
  'cli-read-timeout',
  'color',
  'endpoint-url',
  'output',
  'profile',
  'query',
  'region',
])

function matchesPattern(url: string, pattern: string): boolean {
  const escaped = pattern.split('*').map((part) => part.replaceAll(/[.+?^${}()|[\]\\]/g, String.raw`\$&`))
  return new RegExp(`^${escaped.join('.*')}$`).test(url)
}

export function parseInterim(argv: string[], env: NodeJS.ProcessEnv): ParsedArgv {
  const globals: Record<string, ParamValue> = {}
  const params: Record<string, ParamValue> = {}
  const words: string[] = []
  const problems: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (!arg.startsWith('--')) {
      words.push(arg)
      continue
    }

    const [name, inline] = arg.slice(2).split(/=(.*)/s) as [string, string | undefined]
    if (VALUED_GLOBALS.has(name)) {
      const value = inline ?? argv[++i]
      if (value === undefined) problems.push(`--${name} has no value`)
      else globals[name] = value
    } else if (name.length >= 3 && 'debug'.startsWith(name)) globals.debug = true
    else if (name === 'no-verify-ssl') globals['no-verify-ssl'] = true
    else params[name] = inline ?? true
  }

  const profile =
    (typeof globals.profile === 'string' ? globals.profile : undefined) ||
    env.AWS_PROFILE ||
    env.AWS_DEFAULT_PROFILE ||
    'default'
  return {globals, operation: words[1] ?? null, params, problems, profile, service: words[0] ?? null}
}

function gate(parsed: ParsedArgv, policy: Policy): {category: Category | null; reason: string; rule: null | string} {
  const {globals, operation, service} = parsed
  if (parsed.problems.length > 0) return {category: 'unknown', reason: parsed.problems.join('; '), rule: 'unreadable'}
  if (globals.debug) return {category: 'debug', reason: '--debug prints session tokens', rule: 'global --debug'}
  const endpoint = globals['endpoint-url']
  if (typeof endpoint === 'string' && !policy.endpoints.some((p) => matchesPattern(endpoint, p))) {
    return {
      category: 'transport',
      reason: 'signed requests would go to a custom endpoint',
      rule: 'global --endpoint-url',
    }
  }

  if (globals['ca-bundle'] !== undefined || globals['no-verify-ssl']) {
    return {category: 'transport', reason: 'TLS verification would change', rule: 'global --ca-bundle/--no-verify-ssl'}
  }

  if (service === 'configure') return {category: 'credential', reason: 'configure can print keys', rule: 'configure'}
  if (service === 'iam') return {category: 'elevated', reason: 'IAM changes who can do what', rule: 'iam'}
  if (service === 'sts' && operation !== 'get-caller-identity') {
    return {category: 'token', reason: 'STS can mint credentials', rule: `sts ${operation ?? ''}`.trim()}
  }

  return {category: null, reason: 'not gated', rule: null}
}

export function classifyInterim(argv: string[], deps: ClassifyDeps): {decision: GateDecision; parsed: ParsedArgv} {
  const parsed = parseInterim(argv, deps.env)
  const {category, reason, rule} = gate(parsed, deps.policy)
  const decision: Decision = rule === null ? 'allow' : 'approve'
  return {
    decision: {
      category,
      decision,
      operation: parsed.operation,
      profile: parsed.profile,
      reason,
      rule,
      service: parsed.service,
    },
    parsed,
  }
}

/** No approval channel yet: every approval request is unanswerable, so gated commands are refused. */
export async function approveInterim(_request: ApprovalRequest): Promise<ApprovalAnswer> {
  return 'unavailable'
}
