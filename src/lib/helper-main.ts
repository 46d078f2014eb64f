/**
 * `av credential-helper aws [--profile P]`: the AWS CLI's credential_process. bin/run.js imports this module
 * directly (no oclif: it runs on every AWS call and must start fast), so it parses its tiny argv by hand and
 * imports only what a release needs.
 *
 * It prints exactly the credential_process document on stdout, and only when the caller check passes (see
 * caller-check.ts) and the release is in the audit log. Otherwise it exits 1 with one line on stderr naming the
 * reason code: botocore shows that line in its error. Never a secret or the token on stderr or in the audit.
 */
import {readFileSync} from 'node:fs'
import {homedir} from 'node:os'

import type {AuditSink} from './audit.js'
import type {Clock} from './clock.js'
import type {Output} from './context.js'
import type {RefusalReason} from './refusal.js'
import type {SecretStore} from './secret-store.js'

import {FileAuditLog} from './audit.js'
import {type CallerFacts, collectTrust, DEFAULT_AWS_CLI, describeTokenRefusal, verifyCaller} from './caller-check.js'
import {systemClock} from './clock.js'
import {type AwsKeyPair, readKeyPair} from './credentials.js'
import {AvError, EXIT} from './errors.js'
import {stateDir} from './paths.js'
import {loadPolicy} from './policy.js'
import {type ProcessSnapshot, type ProcessTable, systemProcessTable} from './process-table.js'
import {KeyringStore} from './secret-store.js'
import {checkTokenShape, loadTokenKey, sha256Hex, TOKEN_ENV, type TokenVerdict, verifyToken} from './token.js'
import {realTrustFs, type TrustFs} from './trust.js'

/** The world the helper acts on; `helperDeps()` builds the real one, tests build fakes. */
export interface HelperDeps {
  env: NodeJS.ProcessEnv
  /** The helper's own pid. */
  pid: number
  platform: NodeJS.Platform
  clock: Clock
  table: ProcessTable
  store: SecretStore
  trustFs: TrustFs
  readFile(file: string): Buffer
  /**
   * The audit log to write to. `launcherEnv` is the start environment of this run's verified launcher (its HOME
   * and XDG_STATE_HOME name the user's state dir: the helper's own HOME is the run's private one), else null.
   */
  audit(launcherEnv: null | Record<string, string>): AuditSink
  stdout: Output
  stderr: Output
}

export function helperDeps(): HelperDeps {
  const {env, platform} = process
  return {
    audit(launcherEnv) {
      const source = launcherEnv ?? env
      return new FileAuditLog(stateDir({env: source, home: source.HOME || homedir(), platform}))
    },
    clock: systemClock,
    env,
    pid: process.pid,
    platform,
    readFile: (file) => readFileSync(file),
    stderr: {write: (text) => process.stderr.write(text)},
    stdout: {write: (text) => process.stdout.write(text)},
    store: new KeyringStore({platform}),
    table: systemProcessTable(platform),
    trustFs: realTrustFs,
  }
}

const USAGE = 'Usage: av credential-helper aws [--profile <name>]'
const THROUGH_AV = 'Run the AWS CLI through av: `av run -- aws …` (or the installed `aws` launcher).'

/** `--profile P`, `--profile=P` or nothing (profile `default`). */
export function parseHelperArgs(args: string[]): {profile: string} | {problem: string} {
  let profile: string | undefined
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    let value: string | undefined
    if (arg === '--profile') value = args[++i]
    else if (arg.startsWith('--profile=')) value = arg.slice('--profile='.length)
    else return {problem: `unexpected argument ${JSON.stringify(arg.slice(0, 40))}`}
    if (!value || value.startsWith('-')) return {problem: '--profile needs a profile name'}
    if (profile !== undefined) return {problem: '--profile given twice'}
    profile = value
  }

  return {profile: profile ?? 'default'}
}

/** The credential_process document: exactly these members, in this order, then a newline. */
export function credentialDocument(pair: AwsKeyPair & {expiration?: string}): string {
  const doc: Record<string, number | string> = {
    Version: 1,
    AccessKeyId: pair.accessKeyId,
    SecretAccessKey: pair.secretAccessKey,
  }
  if (pair.sessionToken !== undefined) doc.SessionToken = pair.sessionToken
  if (pair.expiration !== undefined) doc.Expiration = pair.expiration
  return JSON.stringify(doc) + '\n'
}

class Refusal extends Error {
  constructor(
    readonly reason: RefusalReason,
    readonly detail: string,
    readonly advice: string = THROUGH_AV,
    readonly exit: number = 1,
  ) {
    super(detail)
  }
}

/** A store or audit AvError as a refusal that keeps av's own hint. */
function refusalOf(error: unknown, fallback: RefusalReason): Refusal {
  if (error instanceof AvError) {
    const reason: RefusalReason =
      error.code === 'store-unavailable' || error.code === 'store-corrupt' || error.code === 'audit-failed'
        ? error.code
        : fallback
    return new Refusal(reason, error.message, error.suggestion ?? THROUGH_AV)
  }

  return new Refusal(fallback, error instanceof Error ? error.message : String(error))
}

interface Chain {
  facts: CallerFacts
  /** The verified launcher's start environment, for the audit location. */
  launcherEnv: null | Record<string, string>
}

async function readToken(deps: HelperDeps): Promise<TokenVerdict> {
  const token = deps.env[TOKEN_ENV]
  if (!token) return {ok: false, reason: 'token-missing'}
  const shape = checkTokenShape(token)
  if (shape) return {ok: false, reason: shape}
  let key: Buffer | null
  try {
    key = await loadTokenKey(deps.store, {create: false})
  } catch (error) {
    throw refusalOf(error, 'store-unavailable')
  }

  if (!key) {
    throw new Refusal(
      'token-key-missing',
      'the token key is not in the keychain (it is locked, or no `av run` made one on this account)',
      `Unlock your keyring, then ${THROUGH_AV.charAt(0).toLowerCase()}${THROUGH_AV.slice(1)}`,
    )
  }

  return verifyToken(key, token, deps.clock.now())
}

function gatherChain(deps: HelperDeps, token: TokenVerdict, profile: string): Chain {
  const {table} = deps
  const environReadable = deps.platform !== 'darwin'
  const helper = table.snapshot(deps.pid)
  const parent = helper ? table.snapshot(helper.ppid) : null
  const grandparent = parent ? table.snapshot(parent.ppid) : null
  const parentEnv = parent ? table.environ(parent.pid) : null
  const grandparentEnv = grandparent ? table.environ(grandparent.pid) : null

  // The launcher chose the runtime from the policy its own environment named (AV_POLICY); only a root-owned
  // policy is honoured whichever environment names it.
  const {policy} = loadPolicy({env: grandparentEnv ?? deps.env, fs: deps.trustFs})
  const runtimeArgv = policy.awsCli ?? DEFAULT_AWS_CLI
  let runtimeExe: null | string = null
  try {
    runtimeExe = deps.trustFs.realpath(runtimeArgv[0]!)
  } catch {}

  const configFile = environReadable ? parentEnv?.AWS_CONFIG_FILE : deps.env.AWS_CONFIG_FILE
  let configHash: null | string = null
  try {
    if (configFile) configHash = sha256Hex(deps.readFile(configFile))
  } catch {}

  const genuineLauncher =
    token.ok &&
    grandparent !== null &&
    grandparent.pid === token.claims.launcherPid &&
    grandparent.startTime === token.claims.launcherStart
  const facts: CallerFacts = {
    configHash,
    environReadable,
    grandparent,
    grandparentEnv,
    helper,
    parent,
    parentEnv,
    profile,
    recheck: parent ? table.snapshot(parent.pid) : null,
    runtimeArgv,
    runtimeExe,
    token,
    trust: collectTrust({grandparent, parent, runtimeArgv, runtimeExe}, deps.trustFs),
  }
  return {facts, launcherEnv: genuineLauncher ? grandparentEnv : null}
}

function check(facts: CallerFacts): void {
  const verdict = verifyCaller(facts)
  if (!verdict.ok) throw new Refusal(verdict.reason, verdict.detail)
}

async function release(deps: HelperDeps, profile: string, chain: {current?: Chain}): Promise<string> {
  const token = await readToken(deps)
  if (!token.ok) throw new Refusal(token.reason, describeTokenRefusal(token.reason))
  chain.current = gatherChain(deps, token, profile)
  const {facts, launcherEnv} = chain.current
  check(facts)

  let pair: AwsKeyPair | null
  try {
    pair = await readKeyPair(deps.store, profile)
  } catch (error) {
    throw refusalOf(error, 'store-unavailable')
  }

  if (!pair) {
    throw new Refusal(
      'not-stored',
      `no credentials for profile "${profile}" are in the keychain`,
      `Run \`av migrate\` to move the keys of profile "${profile}" into the keychain.`,
    )
  }

  // The CLI must still be there, unchanged, when the answer is written.
  const parent = facts.parent as ProcessSnapshot
  check({...facts, recheck: deps.table.snapshot(parent.pid)})
  try {
    await deps.audit(launcherEnv).record({
      event: 'release',
      profile,
      launcherPid: token.claims.launcherPid,
      cliPid: parent.pid,
      argvHash: token.claims.argvHash,
      ...(token.claims.elevated ? {elevated: true} : {}),
    })
  } catch (error) {
    throw refusalOf(error, 'audit-failed')
  }

  return credentialDocument(pair)
}

/** The whole helper: parse, verify, read, audit, print. Returns the exit code. */
export async function releaseCredentials(args: string[], deps: HelperDeps): Promise<number> {
  const parsed = parseHelperArgs(args)
  const profile = 'profile' in parsed ? parsed.profile : null
  const chain: {current?: Chain} = {}
  try {
    if (profile === null) throw new Refusal('usage', (parsed as {problem: string}).problem, USAGE, EXIT.usage)
    deps.stdout.write(await release(deps, profile, chain))
    return EXIT.ok
  } catch (error) {
    const refusal = error instanceof Refusal ? error : refusalOf(error, 'internal')
    const detail = refusal.detail.replaceAll(/\s+/g, ' ').replace(/\.$/, '')
    deps.stderr.write(`av credential-helper: refused (${refusal.reason}): ${detail}. ${refusal.advice}\n`)
    try {
      await deps.audit(chain.current?.launcherEnv ?? null).record({
        event: 'refusal',
        reason: refusal.reason,
        detail,
        profile,
        callerPid: chain.current?.facts.parent?.pid ?? null,
      })
    } catch {
      // Best effort: a refusal releases nothing, and its reason is already on stderr.
    }

    return refusal.exit
  }
}

export async function main(args: string[]): Promise<number> {
  return releaseCredentials(args, helperDeps())
}
