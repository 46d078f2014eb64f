/**
 * The gate's shared vocabulary. The launcher (`av run`) depends only on these types and on `classifyArgv`
 * (gate/classify.ts) and `requestApproval` (approver.ts); the gate owns everything behind them.
 */
import type {Decision} from '../core/policy.js'

export type {Decision} from '../core/policy.js'

export type Category =
  | 'credential'
  | 'debug'
  | 'decrypted-secret'
  | 'elevated'
  | 'external-program'
  | 'password'
  | 'private-key'
  | 'signed-url'
  | 'token'
  | 'transport'
  | 'unknown'
  | 'unlisted'

/** A parameter value as the AWS CLI would see it after parsing: a flag, one value, or several. */
export type ParamValue = boolean | string | string[]

export interface ParsedArgv {
  /** Global options (`--profile`, `--region`, `--endpoint-url`, `--debug`, …) by their full name, without dashes. */
  globals: Record<string, ParamValue>
  /** The service word as typed (`s3api`), or null when none was given. */
  service: null | string
  /** The operation word (`get-secret-value`), or null. */
  operation: null | string
  /** Operation parameters by full name without dashes, including those merged from --cli-input-json/yaml. */
  params: Record<string, ParamValue>
  /** The profile the run binds: last --profile, else AWS_PROFILE, else AWS_DEFAULT_PROFILE, else "default". */
  profile: string
  /** Why this argv could not be read with certainty (fail closed: any problem means at least approve). */
  problems: string[]
  /**
   * The --cli-input-* file the gate read (`raw` is the argv value, `file://…`; `text` what it classified). The
   * launcher passes `text` inline in its place, so the CLI runs exactly what was classified even if the file
   * changes in between (a same-user agent could swap it after the gate read it).
   */
  inputFile?: null | {raw: string; text: string}
}

export interface GateDecision {
  decision: Decision
  category: Category | null
  /** The rule that matched (e.g. "secretsmanager get-secret-value", "global --debug"), or null for allow. */
  rule: null | string
  reason: string
  service: null | string
  operation: null | string
  profile: string
}

export type ApprovalAnswer = 'approved' | 'denied' | 'unavailable'

export interface ApprovalRequest {
  /** The exact command, shell-quoted: `aws secretsmanager get-secret-value --secret-id x`. */
  command: string
  profile: string
  category: Category | null
  reason: string
  rule: null | string
  /** The endpoint the command would talk to when it names one (`--endpoint-url`), else null. */
  endpoint: null | string
  /** Who asked: the launcher's ancestors, nearest first. */
  chain: Array<{name: string; pid: number}>
}

export type Confidence = 'high' | 'low' | 'medium'

/** [command, category, condition, confidence, reason] as in the catalog. */
export type CatalogRow = [string, string, string, string, string]

/** A documentation-scan row: a catalog row and the evidence it rests on (`doc+name+sensitive-trait`). */
export type DocRow = [string, string, string, string, string, string]

/** Where a rule came from: the catalog, the documentation scan of the service models, or the hand-written list. */
export type RuleSource = 'catalog' | 'doc-scan' | 'hand'

export interface Rule {
  /** `ssm get-parameter`; `configure *` matches the command and every subcommand. */
  command: string
  category: Category
  /** `always`, `if:--flag`, `unless:--flag`, `if:--flag=value`, or a config condition (`if:cli_history=enabled`). */
  condition: string
  confidence: Confidence
  reason: string
  source: RuleSource
  /** Documentation-scan rules: what the row rests on (the members documented as secret, name, sensitive trait). */
  evidence?: string
  /** Subcommands a wildcard rule leaves out (`configure list-profiles`). */
  except?: string[]
  /**
   * Elevated rules only: session credentials obtained with MFA can perform the command, so a profile whose session
   * av got with MFA runs it on that session, not on the long-term key (see isElevatedRun).
   */
  mfaSessionSuffices?: boolean
}

export interface RuleTable {
  rules: Rule[]
  /** Rules by exact command, and wildcard rules by their prefix (`configure`). */
  byCommand: Map<string, Rule[]>
  wildcards: Map<string, Rule[]>
}

/** Default decision by confidence: high and medium are held for approval, low is allowed unless policy says otherwise. */
