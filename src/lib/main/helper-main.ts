/**
 * `av credential-helper aws [--profile P]`: the AWS CLI's credential_process. bin/run.js imports this module
 * directly (no oclif: it runs on every AWS call and must start fast), so it parses its tiny argv by hand and
 * imports only what a release needs.
 *
 * It prints exactly the credential_process document on stdout, and only when the caller check passes (see
 * caller-check.ts) and the release is in the audit log. Otherwise it exits 1 with one line on stderr naming the
 * reason code: botocore shows that line in its error. Never a secret or the token on stderr or in the audit.
 */
import {closeSync, constants, fstatSync, openSync, readFileSync} from 'node:fs'
import {homedir, userInfo} from 'node:os'
import path from 'node:path'

import type {AuditSink} from '../audit/audit.js'
import type {SsoApi} from '../aws/sso-client.js'
import type {StsApi} from '../aws/sts-client.js'
import type {Clock} from '../core/clock.js'
import type {Policy} from '../core/policy.js'
import type {ProcessSnapshot, ProcessTable} from '../core/process-table.js'
import type {TrustFs} from '../core/trust.js'
import type {CodeRequest, ReleasedCredentials} from '../sessions/session-types.js'
import type {SecretStore} from '../store/secret-store.js'
import type {Output} from '../world/process-world.js'

import {FileAuditLog, procProcessChain} from '../audit/audit.js'
import {readAwsConfig} from '../aws/aws-profiles.js'
import {asRefusal, EXIT, formatError, refusal} from '../core/errors.js'
import {auditDir, awsConfigFile} from '../core/paths.js'
import {loadPolicy} from '../core/policy.js'
import {traceFrom} from '../core/trace.js'
import {
  builtinRuntimes,
  type CallerFacts,
  collectTrust,
  describeTokenRefusal,
  precheckCaller,
  resolveRuntimes,
  verifyCaller,
} from '../run/caller-check.js'
import {checkTokenShape, loadTokenKey, sha256Hex, TOKEN_ENV, type TokenVerdict, verifyToken} from '../run/token.js'
import {type CodePromptDeps, requestCode} from '../sessions/code-prompt.js'
import {credentialProcessDocument, getSessionCredentials} from '../sessions/sessions.js'
import {type AwsKeyPair} from '../store/credentials.js'
import {KeyringStore} from '../store/secret-store.js'
import {processWorld} from '../world/process-world.js'

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
   * The audit log to write to: the user's own trail, under the home directory the account database names
   * (paths.ts `auditDir`), whoever the helper's grandparent is. `launcherEnv` is that grandparent's start
   * environment (in a genuine run the launcher's) or null: it can move only a root-run av's trail, since the
   * helper's own HOME is the run's private one.
   */
  audit(launcherEnv: null | Record<string, string>): AuditSink
  stdout: Output
  stderr: Output
  /** The user's home from the account database (the helper's HOME is the run's private one). */
  userHome: string
  /** The STS client, loaded only when a call is needed (a cache hit never loads the AWS SDK). */
  sts(): Promise<StsApi>
  /** IAM Identity Center (OIDC and portal), loaded only when a call is needed. */
  sso(): Promise<SsoApi>
  /** Renews a console sign-in document through the SDK's provider (login-refresh.ts), at the policy's endpoint. */
  loginRefresh(input: {document: string; region: string; session: string}, policy: Policy): Promise<string>
  /** Asks a person for an MFA code through the policy's approver channels (see code-prompt.ts). */
  askCode(
    request: CodeRequest,
    channels: Pick<CodePromptDeps, 'approvers' | 'askTty' | 'env' | 'platform'>,
  ): Promise<string>
}

/** The generated config is small: refuse to read anything but a regular file of at most 64 KiB. */
const CONFIG_MAX_BYTES = 64 * 1024

function readConfigFile(file: string): Buffer {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK)
  try {
    const stat = fstatSync(fd)
    if (!stat.isFile() || stat.size > CONFIG_MAX_BYTES) throw new Error(`${file} is not a small regular file`)
    return readFileSync(fd)
  } finally {
    closeSync(fd)
  }
}

export function helperDeps(): HelperDeps {
  const {clock, env, euid, pid, platform, stderr, stdout, table, trustFs, uid} = processWorld()
  const store = new KeyringStore({platform})
  return {
    audit(launcherEnv) {
      // The user's trail, where the account database says (paths.ts auditDir): the environment — the launcher's
      // or the helper's own — moves only a root-run av's trail, into a root-controlled place.
      const dir = auditDir({env: launcherEnv ?? env, euid, platform, uid})
      // The chain key and head live in the secret store; each line names who asked (helper → aws → launcher → …).
      const processChain = platform === 'linux' ? (pid: number) => procProcessChain(pid) : undefined
      return new FileAuditLog(dir, () => clock.now(), {processChain, store})
    },
    askCode: (request, channels) => requestCode(request, channels),
    clock,
    env,
    pid,
    platform,
    readFile: readConfigFile,
    stderr,
    stdout,
    store,
    async loginRefresh(input, policy) {
      const {refreshLoginDocument} = await import('../aws/login-refresh.js')
      return refreshLoginDocument(input, policy.signin?.endpoint ?? null)
    },
    async sso() {
      env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
      const {sdkSso} = await import('../aws/sso-client.js')
      return sdkSso
    },
    async sts() {
      // The SDK warns on stderr about Node 20 support; botocore would show that in front of any helper error.
      env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
      const {sdkSts} = await import('../aws/sts-client.js')
      return sdkSts
    },
    table,
    trustFs,
    userHome: userInfo().homedir || homedir(),
  }
}

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

/** The helper's exit code for a refusal: the AWS CLI only needs non-zero, and usage errors keep their own 2. */
const REFUSED_EXIT = 1

interface Chain {
  facts: Omit<CallerFacts, 'token'>
  /** The root policy the launcher ran under (STS endpoint, session cap, approvers). */
  policy: Policy
}

async function readToken(deps: HelperDeps, token: string): Promise<TokenVerdict> {
  let key: Buffer | null
  try {
    key = await loadTokenKey(deps.store, {create: false})
  } catch (error) {
    throw asRefusal(error, 'store-unavailable')
  }

  if (!key) {
    throw refusal(
      'token-key-missing',
      'the token key is not in the keychain (it is locked, or no `av run` made one on this account)',
    )
  }

  return verifyToken(key, token, deps.clock.now())
}

/** Everything the caller check needs except the token: processes, environments, runtimes, trust, config. */
function gatherChain(deps: HelperDeps, profile: string): Chain {
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
  const runtimes = resolveRuntimes(
    policy.awsCli ? [policy.awsCli] : builtinRuntimes(deps.platform, parent?.argv[0]),
    deps.trustFs,
  )

  const configFile = environReadable ? parentEnv?.AWS_CONFIG_FILE : deps.env.AWS_CONFIG_FILE
  let configHash: null | string = null
  try {
    if (configFile) configHash = sha256Hex(deps.readFile(configFile))
  } catch {}

  const facts = {
    configHash,
    environReadable,
    grandparent,
    grandparentEnv,
    helper,
    parent,
    parentEnv,
    profile,
    recheck: parent ? table.snapshot(parent.pid) : null,
    runtimes,
    trust: collectTrust({grandparent, parent, runtimes}, deps.trustFs),
  }
  return {facts, policy}
}

function check(facts: CallerFacts): void {
  const verdict = verifyCaller(facts)
  if (!verdict.ok) throw refusal(verdict.reason, verdict.detail)
}

async function release(deps: HelperDeps, profile: string, chain: {current?: Chain}): Promise<string> {
  // Token shape, then the process chain, and only then the secret store: garbage and impostors never cause a
  // keychain access (on macOS that could be a prompt in front of the user).
  const trace = traceFrom(deps.env, 'helper', (text) => deps.stderr.write(text))
  trace.mark('start')
  const raw = deps.env[TOKEN_ENV]
  const shape = raw ? checkTokenShape(raw) : 'token-missing'
  if (shape || !raw) throw refusal(shape ?? 'token-missing', describeTokenRefusal(shape ?? 'token-missing'))
  chain.current = gatherChain(deps, profile)
  const pre = precheckCaller(chain.current.facts)
  if (!pre.ok) throw refusal(pre.reason, pre.detail)
  trace.mark('process-chain')

  const token = await readToken(deps, raw)
  trace.mark('token')
  const facts: CallerFacts = {...chain.current.facts, token}
  check(facts)
  if (!token.ok) throw refusal(token.reason, describeTokenRefusal(token.reason))
  const launcherEnv = facts.grandparentEnv

  const released = await credentialsFor(
    deps,
    profile,
    {launcherEnv, policy: chain.current.policy},
    token.claims.elevated === true,
  )
  trace.mark(released.cached ? 'session-cached' : 'sts')
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
      credentials: released.kind,
      cached: released.cached,
      ...(released.expiration === undefined ? {} : {expiration: new Date(released.expiration).toISOString()}),
    })
  } catch (error) {
    throw asRefusal(error, 'audit-failed')
  }

  trace.mark('audit')
  return JSON.stringify(credentialProcessDocument(released)) + '\n'
}

/**
 * What this run gets: STS session credentials (default), role credentials for a role profile, or the durable key
 * for an elevated run or an opt-out the root policy allows (see sessions.ts). The profiles come from the user's
 * own AWS config, found through the verified launcher's environment (the helper's HOME is the private one).
 */
async function credentialsFor(
  deps: HelperDeps,
  profile: string,
  chain: {launcherEnv: null | Record<string, string>; policy: Policy},
  elevated: boolean,
): Promise<ReleasedCredentials> {
  const {launcherEnv, policy} = chain
  const home = launcherEnv?.HOME || deps.userHome
  const configFile = launcherEnv
    ? awsConfigFile({env: launcherEnv, home, platform: deps.platform})
    : path.join(deps.userHome, '.aws', 'config')
  try {
    const {profiles, ssoSessions} = readAwsConfig(configFile, (file) => deps.readFile(file).toString('utf8'))
    return await getSessionCredentials(
      profile,
      {
        askCode: (request) =>
          deps.askCode(request, {approvers: policy.approvers, env: launcherEnv ?? {}, platform: deps.platform}),
        clock: deps.clock,
        policy,
        profiles,
        loginRefresh: (input) => deps.loginRefresh(input, policy),
        sso: () => deps.sso(),
        ssoSessions,
        store: deps.store,
        sts: () => deps.sts(),
      },
      {elevated},
    )
  } catch (error) {
    throw asRefusal(error, 'internal')
  }
}

/** The whole helper: parse, verify, read, audit, print. Returns the exit code. */
export async function releaseCredentials(args: string[], deps: HelperDeps): Promise<number> {
  const parsed = parseHelperArgs(args)
  const profile = 'profile' in parsed ? parsed.profile : null
  const chain: {current?: Chain} = {}
  try {
    if (profile === null) throw refusal('usage', (parsed as {problem: string}).problem)
    deps.stdout.write(await release(deps, profile, chain))
    return EXIT.ok
  } catch (error) {
    const refused = asRefusal(error, 'internal')
    const detail = refused.message.replaceAll(/\s+/g, ' ').replace(/\.$/, '')
    deps.stderr.write(formatError(refused, {oneLine: true, program: 'av credential-helper'}) + '\n')
    try {
      await deps.audit(chain.current?.facts.grandparentEnv ?? null).record({
        event: 'refusal',
        reason: refused.reason,
        detail,
        profile,
        callerPid: chain.current?.facts.parent?.pid ?? null,
      })
    } catch (error) {
      // A refusal releases nothing and its reason is on stderr already; a record that cannot be written where the
      // trail lives is said out loud, never written somewhere else.
      const why = (error instanceof Error ? error.message : String(error)).replaceAll(/\s+/g, ' ')
      deps.stderr.write(`av credential-helper: this refusal is not in the audit log: ${why}\n`)
    }

    return refused.code === 'usage' ? EXIT.usage : REFUSED_EXIT
  }
}

/**
 * The helper serves keychain mode. In custody mode the AWS CLI asks root directly (`sudo -n <entry> release`, see
 * custody-main.ts): a helper started there finds no launcher of its own and refuses like any impostor, with the
 * same reason codes as in keychain mode.
 */
export async function main(args: string[]): Promise<number> {
  return releaseCredentials(args, helperDeps())
}
