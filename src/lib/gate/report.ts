/**
 * What `av gate test` and `av gate list` show: a dry-run verdict for one command line, and the rules table.
 */
import {parse as shellParse} from 'shell-quote'

import type {Policy} from '../core/policy.js'
import type {Category, Confidence, Decision, GateDecision, ParamValue, Rule, RuleSource} from './types.js'

import {AvError} from '../core/errors.js'
import {classifyArgv, loadUserDecisions} from './classify.js'
import {GLOBAL_RULES} from './hand-rules.js'
import {DEFAULT_BY_CONFIDENCE, defaultRuleTable} from './rules.js'

export interface GateTestDeps {
  env: NodeJS.ProcessEnv
  home: string
  policy: Policy
  readFile?: (p: string) => string
}

export interface GateTestReport {
  decision: GateDecision
  /** The parameters that mattered, as `--name value` words (for the human output). */
  parameters: string[]
  warnings: string[]
}

/**
 * The aws words of `av gate test`: either `aws …` as separate words, or one string split like a shell would.
 * In the string form, leading `NAME=value` assignments set the environment (AWS_PROFILE=x aws …) and the
 * command ends at the first shell operator or comment (`aws ecr get-login-password | docker login …`).
 */
export function awsWordsFrom(input: string[], env: NodeJS.ProcessEnv): {env: NodeJS.ProcessEnv; words: string[]} {
  let words = input
  const assigned: NodeJS.ProcessEnv = {}
  if (input.length === 1) {
    words = []
    for (const part of shellParse(input[0]!, (name: string) => assigned[name] ?? `$${name}`)) {
      if (typeof part === 'string') words.push(part)
      else if ('op' in part && part.op === 'glob') words.push(part.pattern)
      else break
    }

    while (words.length > 0 && /^[A-Z_a-z]\w*=/.test(words[0]!)) {
      const [assignment] = words.splice(0, 1)
      const eq = assignment!.indexOf('=')
      assigned[assignment!.slice(0, eq)] = assignment!.slice(eq + 1)
    }
  }

  const first = words[0]
  if (first !== 'aws' && !first?.endsWith('/aws')) {
    throw new AvError('usage', 'not an aws command line: it must start with "aws"', {
      suggestion: 'av gate test -- aws secretsmanager get-secret-value --secret-id x',
    })
  }

  return {env: {...env, ...assigned}, words}
}

function showValue(value: ParamValue): string {
  if (typeof value === 'boolean') return ''
  const text = Array.isArray(value) ? value.join(' ') : value
  return text.length > 60 ? ` ${text.slice(0, 57)}...` : ` ${text}`
}

/** Dry-run the gate for one command line: nothing is executed. */
export function testGate(input: string[], deps: GateTestDeps): GateTestReport {
  const {env, words} = awsWordsFrom(input, deps.env)
  const user = loadUserDecisions({env: deps.env, home: deps.home, readFile: deps.readFile})
  const {decision, parsed, warnings} = classifyArgv(words, {
    env,
    home: deps.home,
    policy: deps.policy,
    readFile: deps.readFile,
    userDecisions: user.decisions,
  })
  const parameters = [
    ...Object.entries(parsed.globals).map(([k, v]) => `--${k}${showValue(v)}`),
    ...Object.entries(parsed.params).map(([k, v]) => (v === false ? `--no-${k}` : `--${k}${showValue(v)}`)),
  ]
  return {decision, parameters, warnings: [...user.warnings, ...warnings]}
}

export function formatGateTest(report: GateTestReport): string {
  const d = report.decision
  const command = [d.service, d.operation].filter(Boolean).join(' ')
  return [
    `decision:   ${d.decision}`,
    `category:   ${d.category ?? '-'}`,
    `rule:       ${d.rule ?? '-'}`,
    `reason:     ${d.reason}`,
    `command:    aws ${command || '(none)'}   profile ${d.profile}`,
    `parameters: ${report.parameters.join(' ') || '-'}`,
  ].join('\n')
}

export interface RuleRow {
  command: string
  category: Category
  condition: string
  confidence: Confidence
  decision: Decision
  /** Where the rule came from: `catalog`, `doc-scan` (the service models' documentation) or `hand`. */
  source: RuleSource
  reason: string
  /** Documentation-scan rules: what the row rests on (`doc+name+sensitive-trait`). */
  evidence?: string
}

/** Each source in the order `av gate list` shows it, with the heading that says where its rules come from. */
export const RULE_SOURCES: Array<{source: RuleSource; label: string; detail: string}> = [
  {detail: 'rows of aws-sensitive-commands.tsv', label: 'catalog', source: 'catalog'},
  {
    detail: "output members the AWS CLI's service models document as secret (scripts/doc-scan.ts)",
    label: 'documentation scan',
    source: 'doc-scan',
  },
  {detail: 'written in src/lib/gate/hand-rules.ts', label: 'hand rules', source: 'hand'},
]

/** The rules table with the default decision each rule gets under this policy (before any user config). */
export function listRules(
  filter: {category?: string; confidence?: string; source?: string},
  policy: Policy,
): RuleRow[] {
  const globals: Rule[] = GLOBAL_RULES.map((g) => ({
    category: g.category,
    command: g.rule,
    condition: g.endpointScoped ? 'unless the policy allows the endpoint' : 'always',
    confidence: 'high',
    reason: g.reason,
    source: 'hand',
  }))
  return [...defaultRuleTable().rules, ...globals]
    .filter((r) => !filter.category || r.category === filter.category)
    .filter((r) => !filter.confidence || r.confidence === filter.confidence)
    .filter((r) => !filter.source || r.source === filter.source)
    .map((r: Rule) => ({
      category: r.category,
      command: r.command,
      condition: r.condition,
      confidence: r.confidence,
      decision:
        policy.decisions[r.command] ??
        policy.decisions[r.category] ??
        policy.decisions[`confidence:${r.confidence}`] ??
        DEFAULT_BY_CONFIDENCE[r.confidence],
      reason: r.reason,
      source: r.source,
      ...(r.evidence === undefined ? {} : {evidence: r.evidence}),
    }))
}

/** One table per source, each under a heading that names where its rules come from. */
export function formatRules(rows: RuleRow[]): string {
  const header = ['DECISION', 'CATEGORY', 'CONFIDENCE', 'CONDITION', 'COMMAND']
  const cells = (r: RuleRow) => [r.decision, r.category, r.confidence, r.condition, r.command]
  const widths = header.map((_, i) => Math.max(header[i]!.length, ...rows.map((r) => cells(r)[i]!.length)))
  const line = (row: string[]) =>
    row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')
  return RULE_SOURCES.map((s) => ({...s, mine: rows.filter((r) => r.source === s.source)}))
    .filter(({mine}) => mine.length > 0)
    .map(({detail, label, mine}) =>
      [`${label} (${mine.length} rules): ${detail}`, line(header), ...mine.map((r) => line(cells(r)))].join('\n'),
    )
    .join('\n\n')
}
