/**
 * The gate's verdict: parse the argv as the AWS CLI will (parse-argv.ts), then `classify` it over the rules
 * table. Every finding (a matched rule, a global option, an unknown command, an unreadable argv) gets a
 * decision from policy, the strictest wins. Fail closed: whatever av cannot read with certainty is held.
 *
 * Policy `decisions` keys, most specific first: the rule (`ssm get-parameter`, `global --debug`), the category
 * (`signed-url`), the confidence (`confidence:low`). The root policy may loosen or tighten; the user's own
 * config (~/.config/av/config.json) only tightens: a looser entry there is ignored with a warning.
 */
import {readFileSync} from 'node:fs'

import type {Policy} from '../core/policy.js'
import type {Category, Decision, GateDecision, RuleTable} from './types.js'

import {userConfigFile} from '../core/paths.js'
import {type CommandTree} from './aws-commands.js'
import {GLOBAL_RULES, UNLISTED_EXCEPTIONS, UNLISTED_PATTERNS} from './hand-rules.js'
import {parseAwsArgv, type ParsedCommand} from './parse-argv.js'
import {conditionHolds, DEFAULT_BY_CONFIDENCE, defaultRuleTable, rulesFor} from './rules.js'

export interface ClassifyDeps {
  env: NodeJS.ProcessEnv
  home: string
  policy: Policy
  /** `decisions` from the user's own config; honoured only where stricter. */
  userDecisions?: Record<string, Decision>
  readFile?: (p: string) => string
  rules?: RuleTable
  tree?: CommandTree
}

export interface Classification {
  parsed: ParsedCommand
  decision: GateDecision
  warnings: string[]
}

interface Finding {
  rule: string
  category: Category | null
  decision: Decision
  reason: string
  keys: string[]
}

const RANK: Record<Decision, number> = {allow: 0, approve: 1, deny: 2}

export function stricter(a: Decision, b: Decision): Decision {
  return RANK[b] > RANK[a] ? b : a
}

/**
 * Is `url` an endpoint the root policy allows? `*` in a pattern matches any run of characters except `/` and
 * `@`, so `http://127.0.0.1:*` allows `http://127.0.0.1:4566` but not `http://127.0.0.1:80@evil.example`.
 * URLs with user info, or that do not parse, are never allowed.
 */
export function endpointAllowed(url: string, patterns: string[]): boolean {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return false
  }

  if (parsed.username || parsed.password || url.includes('@')) return false
  const candidate = url.replace(/\/$/, '')
  return patterns.some((pattern) => {
    const re = pattern
      .split('*')
      .map((part) => part.replaceAll(/[$()+.?[\\\]^{|}]/g, String.raw`\$&`))
      .join('[^/@]*')
    return new RegExp(`^${re}$`).test(candidate)
  })
}

function commandKey(parsed: ParsedCommand): string[] {
  if (parsed.knownCommand || parsed.path.length > 1) return parsed.path
  return parsed.operation === null ? parsed.path : [...parsed.path, parsed.operation]
}

/** The findings for a parsed argv, before policy. */
function findingsFor(parsed: ParsedCommand, rules: RuleTable, policy: Policy): Finding[] {
  const findings: Finding[] = []
  const words = commandKey(parsed)
  const command = words.join(' ')

  // Command rules (catalog and hand-written), conditions read on the parsed parameters.
  const matching = rulesFor(rules, words)
  for (const rule of matching) {
    const check = conditionHolds(rule.condition, parsed)
    if (!check.holds) continue
    const why = rule.condition === 'always' ? '' : ` (${check.why})`
    findings.push({
      category: rule.category,
      decision: DEFAULT_BY_CONFIDENCE[rule.confidence],
      keys: [rule.command, rule.category, `confidence:${rule.confidence}`],
      reason: `aws ${command}: ${rule.reason}${why}`,
      rule: rule.command,
    })
  }

  const operation = words.at(-1) ?? ''
  const lookalike =
    UNLISTED_PATTERNS.some((p) => p.test(operation)) && !UNLISTED_EXCEPTIONS.some((p) => p.test(operation))
  if (matching.length === 0 && words.length > 1 && lookalike) {
    findings.push({
      category: 'unlisted',
      decision: 'approve',
      keys: [command, 'unlisted'],
      reason: `aws ${command} is not in av's catalog but its name suggests it returns a secret`,
      rule: `unlisted ${command}`,
    })
  }

  // Global options, including any an ambiguous prefix could mean.
  const endpoint = typeof parsed.globals['endpoint-url'] === 'string' ? parsed.globals['endpoint-url'] : null
  const endpointOk = endpoint !== null && endpointAllowed(endpoint, policy.endpoints)
  for (const g of GLOBAL_RULES) {
    const value = parsed.globals[g.option]
    const given = (value !== undefined && value !== false) || parsed.ambiguousOptions.includes(g.option)
    if (!given || (g.endpointScoped && endpointOk)) continue
    const where =
      g.option === 'endpoint-url' && endpoint !== null ? ` (${endpoint} is not an endpoint the policy allows)` : ''
    findings.push({
      category: g.category,
      decision: 'approve',
      keys: [g.rule, g.category],
      reason: g.reason + where,
      rule: g.rule,
    })
  }

  if (parsed.service !== null && !parsed.knownService) {
    findings.push({
      category: 'unknown',
      decision: 'approve',
      keys: ['unknown'],
      reason: `"${parsed.service}" is not a command of the AWS CLI av knows (service names are case-sensitive)`,
      rule: 'unknown-service',
    })
  } else if (parsed.knownService && !parsed.knownCommand && parsed.noCall === null) {
    findings.push({
      category: 'unknown',
      decision: 'approve',
      keys: ['unknown'],
      reason: `"aws ${command}" is not a command of the AWS CLI av knows`,
      rule: 'unknown-command',
    })
  }

  if (parsed.problems.length > 0) {
    findings.push({
      category: 'unknown',
      decision: 'approve',
      keys: ['unknown'],
      reason: `av cannot read this command line with certainty: ${parsed.problems.join('; ')}`,
      rule: 'unparseable',
    })
  }

  return findings
}

/** Apply root policy (loosen or tighten) then the user's decisions (tighten only). */
function decide(finding: Finding, policy: Policy, user: Record<string, Decision>, warnings: string[]): Finding {
  let {decision} = finding
  let {reason} = finding
  const rootKey = finding.keys.find((k) => Object.hasOwn(policy.decisions, k))
  if (rootKey !== undefined) {
    const root = policy.decisions[rootKey]!
    if (root !== decision) reason += ` [policy "${rootKey}": ${root}]`
    decision = root
  }

  const userKey = finding.keys.find((k) => Object.hasOwn(user, k))
  if (userKey !== undefined) {
    const mine = user[userKey]!
    if (RANK[mine] > RANK[decision]) {
      decision = mine
      reason += ` [your config "${userKey}": ${mine}]`
    } else if (RANK[mine] < RANK[decision]) {
      warnings.push(`ignoring "${userKey}": ${mine} in your av config: it may only make decisions stricter`)
    }
  }

  return {...finding, decision, reason}
}

/** Classify a parsed argv over a rules table and the policy. */
export function classify(
  parsed: ParsedCommand,
  rules: RuleTable,
  policy: Policy,
  userDecisions: Record<string, Decision> = {},
): {decision: GateDecision; warnings: string[]} {
  const warnings: string[] = []
  const base = {operation: parsed.operation, profile: parsed.profile, service: parsed.service}

  if (parsed.noCall !== null && parsed.problems.length === 0) {
    return {
      decision: {...base, category: null, decision: 'allow', reason: `no AWS call: ${parsed.noCall}`, rule: null},
      warnings,
    }
  }

  const findings = findingsFor(parsed, rules, policy).map((f) => decide(f, policy, userDecisions, warnings))

  // A per-command entry applies whenever that command runs, even when no rule fired.
  const command = commandKey(parsed).join(' ')
  if (!findings.some((f) => f.keys.includes(command))) {
    const extra = decide(
      {category: null, decision: 'allow', keys: [command], reason: `aws ${command}`, rule: `policy ${command}`},
      policy,
      userDecisions,
      warnings,
    )
    if (extra.decision !== 'allow') findings.push(extra)
  }

  let best: Finding | undefined
  for (const f of findings) if (!best || RANK[f.decision] > RANK[best.decision]) best = f
  if (best && (best.decision !== 'allow' || best.category !== null)) {
    const why = best.reason.includes('[policy')
      ? 'allowed by policy'
      : 'allowed: low-confidence rules run unless policy says approve'
    let reason = best.decision === 'allow' ? `${best.reason}; ${why}` : best.reason
    if (best.rule !== 'unparseable' && parsed.problems.length > 0) reason += `; also ${parsed.problems.join('; ')}`
    return {decision: {...base, category: best.category, decision: best.decision, reason, rule: best.rule}, warnings}
  }

  const checked = rulesFor(rules, commandKey(parsed))
  const reason =
    checked.length > 0
      ? `aws ${command}: ${checked.map((r) => conditionHolds(r.condition, parsed).why).join(', ')}, so nothing secret is returned`
      : `no rule matches aws ${command}`
  return {decision: {...base, category: null, decision: 'allow', reason, rule: null}, warnings}
}

/** Parse and classify an AWS CLI argv: the gate's one entry point for the launcher and `av gate test`. */
export function classifyArgv(argv: string[], deps: ClassifyDeps): Classification {
  const parsed = parseAwsArgv(argv, {env: deps.env, home: deps.home, readFile: deps.readFile, tree: deps.tree})
  const {decision, warnings} = classify(parsed, deps.rules ?? defaultRuleTable(), deps.policy, deps.userDecisions)
  return {decision, parsed, warnings}
}

const DECISIONS = new Set(['allow', 'approve', 'deny'])

/** Read `decisions` from the user's ~/.config/av/config.json. A missing file is no decisions; a bad one warns. */
export function loadUserDecisions(deps: {env: NodeJS.ProcessEnv; home: string; readFile?: (p: string) => string}): {
  decisions: Record<string, Decision>
  warnings: string[]
} {
  const file = userConfigFile({env: deps.env, home: deps.home, platform: process.platform})
  const readFile = deps.readFile ?? ((p: string) => readFileSync(p, 'utf8'))
  let text: string
  try {
    text = readFile(file)
  } catch {
    return {decisions: {}, warnings: []}
  }

  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    return {decisions: {}, warnings: [`ignoring ${file}: it is not valid JSON`]}
  }

  const raw = (doc as {decisions?: unknown})?.decisions
  if (raw === undefined) return {decisions: {}, warnings: []}
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return {decisions: {}, warnings: [`ignoring decisions in ${file}: not an object`]}
  }

  const decisions: Record<string, Decision> = {}
  const warnings: string[] = []
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof value === 'string' && DECISIONS.has(value)) decisions[key] = value as Decision
    else warnings.push(`ignoring decisions.${key} in ${file}: must be allow, approve or deny`)
  }

  return {decisions, warnings}
}
