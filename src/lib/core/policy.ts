/**
 * The root-owned policy: the only place that may loosen av (which AWS CLI runs, which endpoints and approvers
 * are allowed, per-category decisions). `/etc/av/policy.json`, or the file named by AV_POLICY; honoured only
 * when it passes the trust rule (see trust.ts). A policy that fails the check is ignored whole with a warning.
 * The user's ~/.config/av/config.json may carry `decisions` too, applied only where stricter (see gate).
 */
import {readFileSync} from 'node:fs'

import {checkRootOwned, realTrustFs, type TrustFs} from './trust.js'

export const DEFAULT_POLICY_PATH = '/etc/av/policy.json'

export type Decision = 'allow' | 'approve' | 'deny'

export type ApproverSpec = 'gui' | 'tty' | {program: string}

export interface Policy {
  /** Argv prefix of the AWS CLI runtime, e.g. ["/usr/bin/python3", "-I", "/usr/bin/aws"]. */
  awsCli?: string[]
  /** URL patterns `--endpoint-url` may name without approval; `*` matches any run of characters. */
  endpoints: string[]
  sts?: {endpoint?: string}
  /** IAM for av's own calls (`av rotate`): replaces the genuine endpoint (tests). */
  iam?: {endpoint?: string}
  /** IAM Identity Center for av's own sign-in and role credentials: replaces the genuine endpoints (tests). */
  sso?: {oidcEndpoint?: string; portalEndpoint?: string}
  /** AWS sign-in (console credentials, `aws login`) token refresh for av's own calls: replaces the genuine endpoint. */
  signin?: {endpoint?: string}
  approvers: ApproverSpec[]
  /** Per category (`signed-url`) or per command (`ssm get-parameter`). */
  decisions: Record<string, Decision>
  /**
   * STS session settings: `maxDurationSeconds` caps every session/role duration; `allowOptOut` lets a profile's
   * `av_session = off` (user-writable ~/.aws/config) hand the durable key to the AWS CLI, which loosens security.
   */
  sessions?: {allowOptOut?: boolean; maxDurationSeconds?: number}
  /**
   * Custody mode (written by `sudo av install`, the Linux default): `entry` is the root-owned program run through
   * `sudo -n` that holds the keys, `dir` the root-owned directory it keeps them in (see custody-main.ts).
   */
  custody?: CustodyPolicy
}

export interface CustodyPolicy {
  dir: string
  entry: string
  /**
   * The root launcher's entry point (`<prefix>/libexec/av-launch`), which the `aws` shim and `av run` start through
   * `sudo -n`: root gates, asks approvals and starts the CLI as the user (see root-launcher.ts).
   */
  launch?: string
  /** Where root keeps run and approval records and each run's sealed HOME (default /run/av). */
  runDir?: string
  /**
   * The AWS CLI argv the root launcher runs: `awsCli` with its interpreter replaced by a copy users may execute
   * but not read (0711), so the kernel makes the CLI non-dumpable. Absent: `awsCli` as it is.
   */
  awsCli?: string[]
  /** How long a held command waits for the user's password (`av approve`), in seconds (default 120). */
  approvalTimeoutSeconds?: number
}

export const DEFAULT_POLICY: Policy = {approvers: ['gui', 'tty'], decisions: {}, endpoints: []}

function defaults(): Policy {
  return {...DEFAULT_POLICY, approvers: [...DEFAULT_POLICY.approvers], decisions: {}, endpoints: []}
}

export interface LoadedPolicy {
  policy: Policy
  /** The file that was honoured, or null when the built-in defaults apply. */
  source: null | string
  warnings: string[]
}

const DECISIONS = new Set(['allow', 'approve', 'deny'])

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string')
}

/** An object whose settings `keys` are each absent or an http(s) URL (endpoints for av's own calls); else null. */
function urlSettings<K extends string>(value: unknown, keys: K[]): null | Partial<Record<K, string>> {
  if (typeof value !== 'object' || value === null) return null
  const raw = value as Record<string, unknown>
  const settings: Partial<Record<K, string>> = {}
  for (const key of keys) {
    const url = raw[key]
    if (url === undefined) continue
    if (!isUrl(url)) return null
    settings[key] = url
  }

  return settings
}

function isUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol)
  } catch {
    return false
  }
}

const isAbsolute = (v: unknown): v is string => typeof v === 'string' && v.startsWith('/')

function custodyOf(value: unknown): CustodyPolicy | null {
  const c = value as Record<string, unknown>
  if (typeof c !== 'object' || c === null || !isAbsolute(c.entry) || !isAbsolute(c.dir)) return null
  const custody: CustodyPolicy = {dir: c.dir, entry: c.entry}
  for (const key of ['launch', 'runDir'] as const) {
    if (c[key] === undefined) continue
    if (!isAbsolute(c[key])) return null
    custody[key] = c[key]
  }

  if (c.awsCli !== undefined) {
    if (!isStringArray(c.awsCli) || c.awsCli.length === 0 || !isAbsolute(c.awsCli[0])) return null
    custody.awsCli = c.awsCli
  }

  const timeout = c.approvalTimeoutSeconds
  if (timeout !== undefined) {
    if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 5 || timeout > 3600) return null
    custody.approvalTimeoutSeconds = timeout
  }

  return custody
}

/** Validate a parsed policy document. Returns the problems; an empty list means it is usable. */
export function validatePolicy(doc: unknown): {policy?: Policy; problems: string[]} {
  const problems: string[] = []
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return {problems: ['is not a JSON object']}
  const raw = doc as Record<string, unknown>
  const policy = defaults()

  if (raw.awsCli !== undefined) {
    if (isStringArray(raw.awsCli) && raw.awsCli.length > 0 && raw.awsCli.every((a) => a.length > 0)) {
      if (raw.awsCli[0]!.startsWith('/')) policy.awsCli = raw.awsCli
      else problems.push('awsCli[0] must be an absolute path')
    } else problems.push('awsCli must be a non-empty array of strings')
  }

  if (raw.endpoints !== undefined) {
    if (isStringArray(raw.endpoints)) policy.endpoints = raw.endpoints
    else problems.push('endpoints must be an array of URL patterns')
  }

  if (raw.sts !== undefined) {
    const sts = raw.sts as Record<string, unknown>
    if (typeof sts === 'object' && sts !== null && (sts.endpoint === undefined || typeof sts.endpoint === 'string')) {
      policy.sts = sts.endpoint === undefined ? {} : {endpoint: sts.endpoint as string}
    } else problems.push('sts must be an object with an optional string endpoint')
  }

  if (raw.iam !== undefined) {
    const iam = urlSettings(raw.iam, ['endpoint'])
    if (iam) policy.iam = iam
    else problems.push('iam must be an object with an optional http(s) URL endpoint')
  }

  if (raw.sso !== undefined) {
    const sso = urlSettings(raw.sso, ['oidcEndpoint', 'portalEndpoint'])
    if (sso) policy.sso = sso
    else problems.push('sso must be an object with optional http(s) URLs oidcEndpoint and portalEndpoint')
  }

  if (raw.signin !== undefined) {
    const signin = urlSettings(raw.signin, ['endpoint'])
    if (signin) policy.signin = signin
    else problems.push('signin must be an object with an optional http(s) URL endpoint')
  }

  if (raw.approvers !== undefined) {
    const list = raw.approvers
    const ok =
      Array.isArray(list) &&
      list.every(
        (a) =>
          a === 'gui' ||
          a === 'tty' ||
          (typeof a === 'object' &&
            a !== null &&
            typeof (a as {program?: unknown}).program === 'string' &&
            (a as {program: string}).program.startsWith('/')),
      )
    if (ok) policy.approvers = list as ApproverSpec[]
    else problems.push('approvers must list "gui", "tty" or {"program": "/absolute/path"}')
  }

  if (raw.decisions !== undefined) {
    const decisions = raw.decisions as Record<string, unknown>
    if (typeof decisions === 'object' && decisions !== null && !Array.isArray(decisions)) {
      for (const [key, value] of Object.entries(decisions)) {
        if (typeof value === 'string' && DECISIONS.has(value)) policy.decisions[key] = value as Decision
        else problems.push(`decisions.${key} must be allow, approve or deny`)
      }
    } else problems.push('decisions must be an object')
  }

  if (raw.sessions !== undefined) {
    const s = raw.sessions as Record<string, unknown>
    const max = s?.maxDurationSeconds
    const optOut = s?.allowOptOut
    if (typeof s === 'object' && s !== null && (max === undefined || (Number.isInteger(max) && (max as number) > 0))) {
      policy.sessions = max === undefined ? {} : {maxDurationSeconds: max as number}
    } else problems.push('sessions.maxDurationSeconds must be a positive integer')
    if (optOut !== undefined) {
      if (typeof optOut === 'boolean' && policy.sessions) policy.sessions.allowOptOut = optOut
      else problems.push('sessions.allowOptOut must be true or false')
    }
  }

  if (raw.custody !== undefined) {
    const custody = custodyOf(raw.custody)
    if (custody) policy.custody = custody
    else {
      problems.push(
        'custody must be {"entry": "/absolute/path", "dir": "/absolute/path"} with optional absolute "launch", ' +
          '"runDir", an "awsCli" argv and "approvalTimeoutSeconds" (5–3600)',
      )
    }
  }

  return problems.length > 0 ? {problems} : {policy, problems}
}

export interface PolicyDeps {
  env: NodeJS.ProcessEnv
  fs?: TrustFs
  readFile?: (p: string) => string
}

/** Load the policy per the trust rule. Never throws: a bad policy is ignored whole, with a warning. */
export function loadPolicy(deps: PolicyDeps): LoadedPolicy {
  const file = deps.env.AV_POLICY || DEFAULT_POLICY_PATH
  const named = Boolean(deps.env.AV_POLICY)
  const fs = deps.fs ?? realTrustFs
  const readFile = deps.readFile ?? ((p: string) => readFileSync(p, 'utf8'))

  const trust = checkRootOwned(file, fs)
  if (!trust.ok) {
    if (!named && trust.reason === 'does not exist') return {policy: defaults(), source: null, warnings: []}
    return {
      policy: defaults(),
      source: null,
      warnings: [
        `ignoring policy ${file}: ${trust.path} ${trust.reason} (a policy must be root-owned and not writable by others)`,
      ],
    }
  }

  let doc: unknown
  try {
    doc = JSON.parse(readFile(trust.path))
  } catch (error) {
    const why = error instanceof SyntaxError ? 'is not valid JSON' : 'cannot be read'
    return {policy: defaults(), source: null, warnings: [`ignoring policy ${file}: it ${why}`]}
  }

  const {policy, problems} = validatePolicy(doc)
  if (!policy) {
    return {policy: defaults(), source: null, warnings: [`ignoring policy ${file}: ${problems.join('; ')}`]}
  }

  return {policy, source: trust.path, warnings: []}
}
