/**
 * The rules table, from three sources, indexed by command: the catalog rows generated from
 * aws-sensitive-commands.tsv (rules.generated.ts), the rows of the documentation scan of the CLI's service models
 * (doc-rules.generated.ts, scripts/doc-scan.ts), and the short hand-written list (hand-rules.ts). Rules are data;
 * `conditionHolds` is the only logic.
 */
import type {
  CatalogRow,
  Category,
  Confidence,
  Decision,
  DocRow,
  GateDecision,
  ParamValue,
  Rule,
  RuleTable,
} from './types.js'

import {DOC_ROWS} from './doc-rules.generated.js'
import {HAND_RULES} from './hand-rules.js'
import {CATALOG_ROWS} from './rules.generated.js'

export const DEFAULT_BY_CONFIDENCE: Record<Confidence, Decision> = {high: 'approve', low: 'allow', medium: 'approve'}

export function buildRuleTable(
  rows: CatalogRow[] = CATALOG_ROWS,
  hand: Rule[] = HAND_RULES,
  docRows: DocRow[] = DOC_ROWS,
): RuleTable {
  const rules: Rule[] = [
    ...rows.map(([command, category, condition, confidence, reason]) => ({
      category: category as Category,
      command,
      condition,
      confidence: confidence as Confidence,
      reason,
      source: 'catalog' as const,
    })),
    ...docRows.map(([command, category, condition, confidence, reason, evidence]) => ({
      category: category as Category,
      command,
      condition,
      confidence: confidence as Confidence,
      evidence,
      reason,
      source: 'doc-scan' as const,
    })),
    ...hand,
  ]
  const byCommand = new Map<string, Rule[]>()
  const wildcards = new Map<string, Rule[]>()
  for (const rule of rules) {
    const wild = rule.command.endsWith(' *')
    const key = wild ? rule.command.slice(0, -2) : rule.command
    const map = wild ? wildcards : byCommand
    map.set(key, [...(map.get(key) ?? []), rule])
  }

  return {byCommand, rules, wildcards}
}

let cached: RuleTable | undefined
export function defaultRuleTable(): RuleTable {
  cached ??= buildRuleTable()
  return cached
}

/** The rules that apply to a command path (exact command, or a wildcard over its first word(s)). */
export function rulesFor(table: RuleTable, words: string[]): Rule[] {
  const command = words.join(' ')
  const found = [...(table.byCommand.get(command) ?? [])]
  for (let i = words.length; i >= 1; i--) {
    for (const rule of table.wildcards.get(words.slice(0, i).join(' ')) ?? []) {
      if (!rule.except?.includes(command)) found.push(rule)
    }
  }

  return found
}

/**
 * Does the command need the long-term key (an `elevated` rule matches it)? The launcher asks this apart from the
 * winning category: `sts get-session-token` is held as `credential` (it prints keys) and also needs the key.
 */
export function isElevated(words: string[], table: RuleTable = defaultRuleTable()): boolean {
  return rulesFor(table, words).some((rule) => rule.category === 'elevated')
}

/**
 * Does this run need the long-term key? The one place that decides it, for every launcher (the keychain launcher's
 * runAws and the root-run launcher): the run is elevated when an `elevated` rule matches its command (whatever
 * category won the gate), unless every such rule is one a session obtained with MFA can perform and the profile's
 * session is such a session (`mfa_serial`: av's GetSessionToken passed SerialNumber and TokenCode). So IAM runs on
 * an MFA session, never on the key; STS calls other than AssumeRole and GetCallerIdentity stay elevated (MFA or
 * not, session credentials cannot make them). A decision of category `elevated` that no rule explains stays
 * elevated. Call it after the gate let the command through (allowed or approved).
 */
export function isElevatedRun(
  decision: Pick<GateDecision, 'category' | 'operation' | 'service'>,
  session: {mfaSession: boolean},
  table: RuleTable = defaultRuleTable(),
): boolean {
  const words = [decision.service, decision.operation].filter((w): w is string => w !== null)
  const rules = words.length === 2 ? rulesFor(table, words).filter((rule) => rule.category === 'elevated') : []
  if (rules.length === 0) return decision.category === 'elevated'
  return rules.some((rule) => !(session.mfaSession && rule.mfaSessionSuffices === true))
}

export interface ConditionInput {
  params: Record<string, ParamValue>
  /** Options the CLI would not recognise (`--recip`): a prefix of an `if:` flag counts as that flag. */
  unknownOptions: string[]
  /** Option names an ambiguous prefix could mean: each counts as given. */
  ambiguousOptions: string[]
}

function isSet(value: ParamValue | undefined): boolean {
  if (value === undefined || value === false) return false
  if (typeof value === 'string') return value.toLowerCase() !== 'false' && value !== 'null'
  return true
}

function valueMatches(value: ParamValue | undefined, wanted: string): boolean {
  if (value === undefined || typeof value === 'boolean') return false
  const values = (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(','))
  // A value read from a file cannot be checked here: read it as the sensitive one.
  return values.some((v) => v.trim().toLowerCase() === wanted.toLowerCase() || /^fileb?:\/\//.test(v))
}

/** Does the rule's condition hold for these parameters? Unknown shapes hold (fail closed). */
export function conditionHolds(condition: string, input: ConditionInput): {holds: boolean; why: string} {
  if (condition === 'always') return {holds: true, why: 'always'}
  const match = /^(if|unless):--([a-z0-9-]+)(?:=(.+))?$/.exec(condition)
  if (!match) return {holds: true, why: `${condition} (av cannot check this here, so it counts as met)`}
  const [, kind, flag, wanted] = match
  const value = input.params[flag!]
  if (kind === 'if') {
    const hinted =
      input.ambiguousOptions.includes(flag!) ||
      input.unknownOptions.some((o) => {
        if (!o.startsWith('--')) return false
        const name = o.slice(2).split('=')[0]!
        return name.length > 0 && flag!.startsWith(name)
      })
    if (wanted === undefined) {
      const holds = isSet(value) || hinted
      return {holds, why: holds ? `--${flag} given` : `--${flag} not given`}
    }

    const holds = valueMatches(value, wanted) || hinted
    return {holds, why: holds ? `--${flag} is ${wanted}` : `--${flag} is not ${wanted}`}
  }

  // unless: only the exact, present parameter counts (never a guess).
  const present = value !== undefined && value !== false && value !== ''
  return {holds: !present, why: present ? `--${flag} given` : `--${flag} not given`}
}
