/**
 * The custody entry point: runs as root through `sudo -n <prefix>/libexec/av-custody <verb> …` (a root-owned
 * `#!/bin/sh` written by `sudo av install` that execs the root-owned node on this file with an empty
 * environment but SUDO_UID and the install's AV_POLICY). It trusts nothing from the caller but argv and stdin:
 * the user is SUDO_UID cross-checked against /proc (the sudo process's real uid, and its caller's), and every
 * verb checks through /proc who ran sudo. Keys live in a FileCustodyStore at `<policy custody.dir>/<uid>`.
 *
 *   view              the calling user's accounts, and their durable items sealed (custody-keys.ts): no key
 *   store             an item (JSON on stdin) for the calling user; refuses to replace a different key
 *   checkout P…       the durable items of the profiles, unsealed (av restore); only through the -auth entry
 *   rotate P…         root creates a new IAM key with the held one, stores it, checks it works, deletes the old
 *                     one (rotate.ts); only through the -auth entry; answers key ids, never a secret
 *   key-ages [--offline]
 *                     how old each durable key is: IAM's CreateDate (root asks with the held key), else the item's
 *                     dates; answers names and dates, never a key
 *   remove            deletes a profile's key (and its cached sessions) given the proof that the caller holds it
 *   drop-sessions     deletes cached session / role credentials (av session clear); never a durable key
 *   pending           the calling user's held runs; approve <id> (only through the -auth entry), deny <id>
 *   release --profile P --run ID
 *                     the AWS CLI's credential_process: its caller must be the run's CLI, child of the run's root
 *                     launcher (verifyRunCaller), then the STS session logic over the custody store; prints the
 *                     credential_process document. While the run's launcher lives it answers this itself
 *                     (serveRelease, through the entry script's fast path), with the same checks
 *
 * The durable key never enters a process of the user's uid: only STS session credentials leave this process —
 * or, through the password-guarded `<entry>-auth` alone, the durable key for `av restore` (checkout) or for one
 * run the gate held as elevated and the user approved with their password.
 */
import {readFileSync, readSync, statSync} from 'node:fs'
import path from 'node:path'

import type {Clock} from '../core/clock.js'
import type {ProcessTable} from '../core/process-table.js'
import type {TrustFs} from '../core/trust.js'
import type {Output} from '../world/process-world.js'

import {FileAuditLog, procProcessChain} from '../audit/audit.js'
import {acquireLock} from '../aws/aws-files.js'
import {type AwsProfiles, readAwsConfig, readAwsProfiles} from '../aws/aws-profiles.js'
import {type IamApi, queryIam} from '../aws/iam-client.js'
import {sdkCallerIdentity, type StsTarget} from '../aws/sts-client.js'
import {AvError, EXIT, formatError, refusal} from '../core/errors.js'
import {passwdEntry} from '../core/passwd.js'
import {type CustodyPolicy, loadPolicy, type Policy} from '../core/policy.js'
import {traceFrom} from '../core/trace.js'
import {readAsUser} from '../custody/as-user.js'
import {DEFAULT_RUN_DIR, isRunId, type PendingApproval, RunStore, verifyRunCaller} from '../custody/run-record.js'
import {findSudoCaller, type SudoCaller} from '../custody/sudo-caller.js'
import {iamCreateDate, keyAges} from '../keys/key-age.js'
import {rotateProfile, type RotateResult} from '../keys/rotate.js'
import {type LoginRequest, loginTargetOf, removeSignIns} from '../keys/sso-login.js'
import {importMove} from '../keys/sso-migrate.js'
import {askTty} from '../sessions/code-prompt.js'
import {isSignInAccount} from '../sessions/login-session.js'
import {credentialProcessDocument, getSessionCredentials, isSessionAccount} from '../sessions/sessions.js'
import {signIn} from '../sessions/sso-tokens.js'
import {decodeKeyPair, encodeKeyPair, profileAccount, profileOfAccount} from '../store/credentials.js'
import {mergeStored, proofMatches, sealValue} from '../store/custody-keys.js'
import {FileCustodyStore} from '../store/custody-store.js'
import {processWorld} from '../world/process-world.js'
import {type HelperDeps, helperDeps} from './helper-main.js'
import {startedAs} from './started-as.js'

const STDIN_MAX_BYTES = 16 * 1024

export interface CustodyDeps {
  /** sudo's reset environment as the entry script passed it on: SUDO_UID and AV_POLICY only. */
  env: NodeJS.ProcessEnv
  pid: number
  /** Effective uid: custody runs only as root. */
  euid: number
  table: ProcessTable
  trustFs: TrustFs
  clock: Clock
  stdin(): string
  stdout: Output
  stderr: Output
  /** The real helper deps (STS client, MFA prompt…) the release verb adapts to custody. */
  helperDeps(): HelperDeps
  /** Read a file the user names (their AWS config) with the user's own rights, not root's. */
  readAsUser(uid: number, gid: number, file: string): Buffer
  /** The user's home directory from the account database. */
  homeOf(uid: number): {gid: number; home: string}
  /** IAM and GetCallerIdentity for `rotate` (the real ones: iam-client.ts, sts-client.ts). */
  rotateApis(): {callerIdentity: (target: StsTarget) => Promise<{arn: string}>; iam: IamApi}
  /** The terminal device the person at `pid` (a process of `uid`) sees, or null when it has none. */
  terminalOf(pid: number, uid: number): null | string
}

/** The policy each entry-point run reads once (it names the store, the run records and the STS endpoint). */
const POLICIES = new WeakMap<object, ReturnType<typeof loadPolicy>>()

function custodyPolicy(deps: Pick<CustodyDeps, 'env' | 'trustFs'>): Policy & {custody: CustodyPolicy} {
  let loaded = POLICIES.get(deps)
  if (!loaded) {
    loaded = loadPolicy({env: deps.env, fs: deps.trustFs})
    POLICIES.set(deps, loaded)
  }

  const {policy, warnings} = loaded
  if (!policy.custody) {
    throw new AvError('refused', `custody is not configured${warnings.length > 0 ? `: ${warnings.join('; ')}` : ''}`, {
      suggestion: 'Run `sudo av install`.',
    })
  }

  return policy as Policy & {custody: CustodyPolicy}
}

function custodyDir(deps: Pick<CustodyDeps, 'env' | 'trustFs'>): string {
  return custodyPolicy(deps).custody.dir
}

function storeFor(deps: CustodyDeps, uid: number): FileCustodyStore {
  return new FileCustodyStore(path.join(custodyDir(deps), String(uid)), deps.trustFs)
}

function readJson(deps: CustodyDeps): Record<string, unknown> {
  const text = deps.stdin()
  try {
    const doc = JSON.parse(text) as unknown
    if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) return doc as Record<string, unknown>
  } catch {}

  throw refusal('usage', 'stdin is not a JSON object')
}

const PROFILE = /^[\w.@+-]{1,128}$/
const LOGIN_SESSION = /^arn:[\w:/+=,.@-]{1,2000}$/

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => {
    setTimeout(resolve, ms)
  })
}

function profileOf(value: unknown): string {
  if (typeof value !== 'string' || !PROFILE.test(value)) {
    throw refusal('usage', 'the profile name is missing or not a plain name')
  }

  return value
}

/**
 * `store`: an item for the calling user: `{profile, value}` (the whole item av migrate writes: key and restore
 * record, or the item sealed to update only the record), or `{profile, accessKeyId, secretAccessKey}`. Any process
 * of the user may store; none may replace a different key (mergeStored). Answers with root's read-back, sealed.
 */
async function storeVerb(deps: CustodyDeps, {uid}: SudoCaller): Promise<string> {
  const doc = readJson(deps)
  const profile = profileOf(doc.profile)
  const account = profileAccount(profile)
  let incoming: string
  if (typeof doc.value === 'string') {
    incoming = doc.value
  } else {
    const {accessKeyId, secretAccessKey} = doc
    if (typeof accessKeyId !== 'string' || !accessKeyId || typeof secretAccessKey !== 'string' || !secretAccessKey) {
      throw refusal('usage', 'stdin must hold a value, or accessKeyId and secretAccessKey')
    }

    incoming = encodeKeyPair({accessKeyId, secretAccessKey})
  }

  // decodeKeyPair (inside) validates the shape and never echoes a value.
  const store = storeFor(deps, uid)
  const value = mergeStored(account, await store.get(account), incoming)
  await store.set(account, value)
  const back = await store.get(account)
  if (back !== value) throw new AvError('store-unavailable', 'custody did not keep the key')
  return JSON.stringify({profile, sealed: sealValue(account, back), stored: true}) + '\n'
}

/** `view`: every account of the calling user, and each durable item sealed. Names and records only, no key. */
async function viewVerb(deps: CustodyDeps, {uid}: SudoCaller): Promise<string> {
  const store = storeFor(deps, uid)
  const accounts = await store.list()
  const sealed: Record<string, string> = {}
  for (const account of accounts) {
    if (profileOfAccount(account) === null) continue
    const raw = await store.get(account) // eslint-disable-line no-await-in-loop -- a few small files, in order
    if (raw !== null) sealed[account] = sealValue(account, raw)
  }

  return JSON.stringify({accounts, sealed}) + '\n'
}

function profilesOf(args: string[], verb: string): string[] {
  if (args.length === 0 || args.length > 100) {
    throw refusal('usage', `name 1 to 100 profiles: ${verb} <profile>…`)
  }

  return [...new Set(args.map((p) => profileOf(p)))]
}

/** Reached through `<entry>-auth`, which sudo runs only after the user's password (asked every time). */
function authenticated(deps: Pick<CustodyDeps, 'env'>): boolean {
  return deps.env.AV_CUSTODY_AUTHENTICATED === '1'
}

/**
 * `checkout <profile>…`: the durable items of the named profiles, as stored, for `av restore` to write back into
 * the credentials file. Taking a key out of custody is a human-only action, and the proof of a human is the one
 * thing an agent running as the user cannot produce: the user's password, which sudo asked for before running the
 * `-auth` entry. (A terminal prompt would not do: an agent can run av inside a pty it drives and type "y".)
 */
async function checkoutVerb(deps: CustodyDeps, {caller, uid}: SudoCaller, args: string[]): Promise<string> {
  if (!authenticated(deps)) {
    throw refusal(
      'custody-not-authenticated',
      'taking keys out of custody needs your password: av runs the -auth entry point through sudo for it',
    )
  }

  const profiles = profilesOf(args, 'checkout')
  const store = storeFor(deps, uid)
  const audit = new FileAuditLog(store.dir, () => deps.clock.now(), {store})
  const items: Record<string, string> = {}
  for (const profile of profiles) {
    const raw = await store.get(profileAccount(profile)) // eslint-disable-line no-await-in-loop -- small files
    if (raw === null) throw new AvError('not-found', `custody holds no key for profile ${profile}`)
    items[profileAccount(profile)] = raw
  }

  await audit.record({callerPid: caller.pid, custody: true, event: 'checkout', profiles})
  return JSON.stringify({items}) + '\n'
}

/**
 * The profiles of the user's `~/.aws/config` (sudo reset AWS_CONFIG_FILE), read with the user's rights: rotate and
 * key-ages take each profile's region from it, which picks IAM's partition.
 */
function homeProfilesOf(deps: CustodyDeps, uid: number): AwsProfiles {
  const {gid, home} = deps.homeOf(uid)
  return readAwsProfiles(path.join(home, '.aws', 'config'), (file) => deps.readAsUser(uid, gid, file).toString('utf8'))
}

/**
 * `rotate <profile>…`: only through `<entry>-auth` (sudo asked the user's password, as for an elevated run). Root
 * does every IAM call and the store itself (rotate.ts), so the new secret never enters a process of the user's
 * uid; the journal that lets a re-run finish a killed rotation is a root-only item beside the key. Each step goes
 * to root's audit log and, as one `av custody: step …` line, to stderr; stdout answers key ids and timings only.
 */
async function rotateVerb(deps: CustodyDeps, {uid}: SudoCaller, args: string[]): Promise<string> {
  if (!authenticated(deps)) {
    throw refusal('custody-not-authenticated', 'rotating a key needs your password: `av rotate` asks it')
  }

  const profiles = profilesOf(args, 'rotate')
  const policy = custodyPolicy(deps)
  const store = storeFor(deps, uid)
  const userProfiles = homeProfilesOf(deps, uid)
  const apis = deps.rotateApis()
  const release = await acquireLock(path.join(store.dir, 'rotate.lock'), 'rotate')
  const results: RotateResult[] = []
  try {
    for (const profile of profiles) {
      // eslint-disable-next-line no-await-in-loop -- one profile after the other, each to the end
      const result = await rotateProfile(
        {
          audit: auditOf(deps, store),
          callerIdentity: apis.callerIdentity,
          clock: deps.clock,
          iam: async () => apis.iam,
          policy,
          regionOf: (p) => userProfiles[p]?.region,
          sleep,
          step: (p, step, text) => deps.stderr.write(`av custody: step ${p} ${step}: ${text}\n`),
          store,
        },
        profile,
      )
      results.push(result)
    }
  } finally {
    await release()
  }

  return JSON.stringify({results}) + '\n'
}

/**
 * `key-ages [--offline]`: how old each durable key the calling user keeps here is — IAM's CreateDate, asked by root
 * with the held key (ListAccessKeys), else the item's dates (`--offline`, or IAM refused). Answers profile names,
 * dates and IAM's error codes: never a key. Any process of the user may ask: it learns nothing secret.
 */
async function keyAgesVerb(deps: CustodyDeps, {uid}: SudoCaller, args: string[]): Promise<string> {
  if (args.length > 1 || (args.length === 1 && args[0] !== '--offline')) {
    throw refusal('usage', 'key-ages takes no argument but --offline')
  }

  const store = storeFor(deps, uid)
  if (args[0] === '--offline') return JSON.stringify({ages: await keyAges(store)}) + '\n'
  const userProfiles = homeProfilesOf(deps, uid)
  const askIam = iamCreateDate(deps.rotateApis().iam, custodyPolicy(deps), (p) => userProfiles[p]?.region)
  return JSON.stringify({ages: await keyAges(store, askIam)}) + '\n'
}

/** `remove`: delete a profile's key and its cached sessions, for a caller that proves it holds that key. */
async function removeVerb(deps: CustodyDeps, {caller, uid}: SudoCaller): Promise<string> {
  const doc = readJson(deps)
  const profile = profileOf(doc.profile)
  const account = profileAccount(profile)
  const store = storeFor(deps, uid)
  const raw = await store.get(account)
  if (raw === null) return JSON.stringify({profile, removed: false}) + '\n'
  if (typeof doc.proof !== 'string' || !proofMatches(decodeKeyPair(account, raw), doc.proof)) {
    throw refusal('custody-caller-untrusted', `no proof of holding the key of ${profile}`)
  }

  await store.delete(`session:${profile}`)
  await store.delete(`role:${profile}`)
  await store.delete(account)
  const audit = new FileAuditLog(store.dir, () => deps.clock.now(), {store})
  await audit.record({callerPid: caller.pid, custody: true, event: 'custody-remove', profile})
  return JSON.stringify({profile, removed: true}) + '\n'
}

/** `release --profile P --run ID`: the arguments of the credential_process line the root launcher wrote. */
function parseReleaseArgs(args: string[]): {profile: string; run: string} {
  const named: Record<string, string> = {}
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i]
    const value = args[i + 1]
    if ((name !== '--profile' && name !== '--run') || value === undefined || named[name] !== undefined) {
      throw refusal('usage', 'release takes --profile <name> --run <id>')
    }

    named[name] = value
  }

  const run = named['--run']
  if (run === undefined || !isRunId(run)) throw refusal('usage', 'release needs --run <id>')
  return {profile: profileOf(named['--profile']), run}
}

/**
 * `release`: credentials for the AWS CLI that av's root launcher started for this run, and for no other process.
 * sudo's caller must be that very CLI: the run record root wrote before starting it names the launcher (pid and
 * start time, a root process), the CLI's argv and executable, and the profile (verifyRunCaller). Then the STS
 * session logic runs over the custody store and the credential_process document is printed. The user's AWS config
 * is read with the user's rights, never root's.
 */
async function releaseVerb(args: string[], deps: CustodyDeps, sudo: SudoCaller): Promise<string> {
  return releaseRun(deps, sudo, parseReleaseArgs(args))
}

async function releaseRun(
  deps: CustodyDeps,
  {caller: cli, uid}: SudoCaller,
  {profile, run}: {profile: string; run: string},
): Promise<string> {
  const trace = traceFrom(deps.env, 'root-release', (text) => deps.stderr.write(text))
  trace.mark('start')
  const policy = custodyPolicy(deps)
  const record = runsFor(deps, uid).readRecord(run)
  const facts = {cli, launcher: deps.table.snapshot(cli.ppid), now: deps.clock.now(), profile, record, uid}
  const verdict = verifyRunCaller(facts)
  if (!verdict.ok) throw refusal(verdict.reason, verdict.detail)
  trace.mark('caller-check')
  const {elevated, userConfigFile} = record!
  const store = storeFor(deps, uid)
  const {gid} = deps.homeOf(uid)
  const base = deps.helperDeps()
  const {profiles, ssoSessions} = readAwsConfig(userConfigFile, (file) =>
    deps.readAsUser(uid, gid, file).toString('utf8'),
  )
  const released = await getSessionCredentials(
    profile,
    {
      // Root asks for an MFA code only where root may: the user's terminal or a root-owned program, never a GUI
      // on the user's display, and with no environment of the user's.
      askCode(request) {
        const terminal = deps.terminalOf(cli.pid, uid)
        return base.askCode(request, {
          approvers: policy.approvers.filter((a) => a !== 'gui'),
          askTty: (prompt) => (terminal === null ? null : askTty(prompt, terminal)),
          env: {},
          platform: 'linux',
        })
      },
      clock: deps.clock,
      policy,
      profiles,
      loginRefresh: (input) => base.loginRefresh(input, policy),
      sso: () => base.sso(),
      ssoSessions,
      store,
      sts: () => base.sts(),
    },
    {elevated},
  )
  trace.mark(released.cached ? 'session-cached' : 'sts')
  // The CLI must still be there, unchanged, when the answer is written.
  const again = verifyRunCaller({...facts, cli: deps.table.snapshot(cli.pid)})
  if (!again.ok) throw refusal('parent-gone', `the AWS CLI ${cli.pid} exited or changed before the answer`)
  await auditOf(deps, store).record({
    event: 'release',
    custody: true,
    profile,
    launcherPid: record!.launcherPid,
    cliPid: cli.pid,
    argvHash: record!.argvHash,
    ...(elevated ? {elevated: true} : {}),
    credentials: released.kind,
    cached: released.cached,
    ...(released.expiration === undefined ? {} : {expiration: new Date(released.expiration).toISOString()}),
  })
  trace.mark('audit')
  return JSON.stringify(credentialProcessDocument(released)) + '\n'
}

function auditOf(deps: CustodyDeps, store: FileCustodyStore): FileAuditLog {
  return new FileAuditLog(store.dir, () => deps.clock.now(), {
    processChain: (pid: number) => procProcessChain(pid),
    store,
  })
}

function runsFor(deps: CustodyDeps, uid: number): RunStore {
  return new RunStore(custodyPolicy(deps).custody.runDir ?? DEFAULT_RUN_DIR, uid)
}

function pendingOf(deps: CustodyDeps, uid: number, args: string[]): PendingApproval {
  const [id] = args
  if (args.length !== 1 || id === undefined || !isRunId(id)) {
    throw refusal('usage', 'name one request: approve <id> | deny <id>')
  }

  const pending = runsFor(deps, uid).readPending(id)
  if (!pending || pending.expires <= deps.clock.now()) {
    throw new AvError('not-found', `no request ${id} is waiting (it was answered, it expired, or its run ended)`, {
      suggestion: '`av approve` with no id lists the requests waiting now.',
    })
  }

  const launcher = deps.table.snapshot(pending.binding.launcherPid)
  if (!launcher || launcher.startTime !== pending.binding.launcherStart) {
    throw new AvError('not-found', `the run that asked for ${id} is gone`)
  }

  return pending
}

/**
 * `approve <id>`: only through `<entry>-auth`, which sudo runs after the user's password (asked every time). The
 * approval is recorded for exactly the run that asked (its launcher's pid and start time, its argv), once.
 */
async function approveVerb(deps: CustodyDeps, sudo: SudoCaller, args: string[]): Promise<string> {
  if (!authenticated(deps)) {
    throw refusal('custody-not-authenticated', 'an approval needs your password: `av approve` asks it')
  }

  return answerVerb(deps, sudo, args, 'approved')
}

/** `deny <id>`: any process of the user may end a held run at once (that only ever takes a run away). */
async function denyVerb(deps: CustodyDeps, sudo: SudoCaller, args: string[]): Promise<string> {
  return answerVerb(deps, sudo, args, 'denied')
}

/** Record the first answer to a held run, audit it (or that it came too late), and say what was answered. */
async function answerVerb(
  deps: CustodyDeps,
  {caller, uid}: SudoCaller,
  args: string[],
  answer: 'approved' | 'denied',
): Promise<string> {
  const pending = pendingOf(deps, uid, args)
  const recorded = runsFor(deps, uid).answer(pending, answer, caller.pid, deps.clock.now())
  await auditOf(deps, storeFor(deps, uid)).record({
    event: 'approval',
    custody: true,
    answer: recorded ? answer : 'already-answered',
    argvHash: pending.binding.argvHash,
    launcherPid: pending.binding.launcherPid,
    profile: pending.request.profile,
    callerPid: caller.pid,
  })
  if (!recorded) throw new AvError('conflict', `request ${pending.id} was already answered`)
  return `${answer} ${pending.id}: ${pending.request.command}\n`
}

/** `pending`: the calling user's held runs, as root sees them (JSON), for `av approve` to list and show. */
async function pendingVerb(deps: CustodyDeps, {uid}: SudoCaller): Promise<string> {
  const pending = runsFor(deps, uid)
    .listPending(deps.clock.now())
    .map(({elevated, expires, id, request}) => ({elevated, expires, id, request}))
  return JSON.stringify({pending}) + '\n'
}

/** The user's AWS config named on stdin (an absolute path), read with the user's own rights. */
function userConfigText(deps: CustodyDeps, uid: number, file: unknown): string {
  if (typeof file !== 'string' || !path.isAbsolute(file) || file.length > 4096) {
    throw refusal('usage', 'configFile must be an absolute path')
  }

  const {gid} = deps.homeOf(uid)
  try {
    return deps
      .readAsUser(uid, gid, file)
      .toString('utf8')
      .replace(/^\uFEFF/, '')
  } catch {
    throw new AvError('not-found', `${file} cannot be read as you`, {
      suggestion: 'Run `aws configure sso` (it writes the profile and its sso-session), then `av login`.',
    })
  }
}

/**
 * `sso-login`: stdin `{configFile, profile?, session?}`. Root signs in to IAM Identity Center for the calling user
 * (the device grant, sso-tokens.ts) and keeps the tokens in the user's custody directory; the verification URL and
 * code go to stderr as one `av custody: sso-code <code> <uri> <uri with code>` line, which the user's av shows.
 * No token leaves root: stdout answers the start URL, the expiry and whether a refresh token came.
 */
async function ssoLoginVerb(deps: CustodyDeps, {caller, uid}: SudoCaller): Promise<string> {
  const doc = readJson(deps)
  const request: LoginRequest = {}
  if (doc.session !== undefined) request.session = profileOf(doc.session)
  else if (doc.profile !== undefined) request.profile = profileOf(doc.profile)
  const policy = custodyPolicy(deps)
  const target = loginTargetOf(userConfigText(deps, uid, doc.configFile), request, policy)
  const store = storeFor(deps, uid)
  const base = deps.helperDeps()
  const result = await signIn(target, {
    clock: deps.clock,
    show(authorization) {
      const {userCode, verificationUri, verificationUriComplete} = authorization
      const words = [userCode, verificationUri, verificationUriComplete]
      if (words.some((w) => !/^\S{1,2048}$/.test(w))) throw new AvError('internal', 'the sign-in code is malformed')
      deps.stderr.write(`av custody: sso-code ${words.join(' ')}\n`)
    },
    sleep,
    sso: () => base.sso(),
    store,
  })
  await auditOf(deps, store).record({
    callerPid: caller.pid,
    custody: true,
    event: 'sso-login',
    refreshable: result.refreshToken,
    session: target.session,
    startUrl: target.startUrl,
  })
  return JSON.stringify(result) + '\n'
}

/**
 * `sso-logout`: stdin `{accounts}` (`sso:<key>`, `login:<session>`, or `*` for every sign-in of the user's): ends
 * each IAM Identity Center portal session (best effort) and deletes the items. Answers the accounts removed.
 */
async function ssoLogoutVerb(deps: CustodyDeps, {caller, uid}: SudoCaller): Promise<string> {
  const {accounts} = readJson(deps)
  const ok =
    Array.isArray(accounts) &&
    accounts.length <= 100 &&
    accounts.every((a) => typeof a === 'string' && a.length <= 2048 && (a === '*' || isSignInAccount(a)))
  if (!ok) throw refusal('usage', 'stdin must list the sign-ins to remove (sso:<key>, login:<session> or *)')
  const store = storeFor(deps, uid)
  const named = accounts as string[]
  const targets = named.includes('*') ? (await store.list()).filter((a) => isSignInAccount(a)) : named
  const base = deps.helperDeps()
  const removed = await removeSignIns({policy: custodyPolicy(deps), sso: () => base.sso()}, store, targets)
  await auditOf(deps, store).record({
    callerPid: caller.pid,
    custody: true,
    event: 'sso-logout',
    removed: removed.length,
  })
  return JSON.stringify({removed}) + '\n'
}

/**
 * `sso-import` and `login-import`: stdin `{key, cache}`, the AWS CLI's plaintext cache document of an IAM Identity
 * Center sign-in (key: the session name or start URL) or of a console sign-in (key: the login_session ARN), which
 * `av migrate` moves into custody and then deletes. The same rule as in keychain mode (importMove): stored and read
 * back, unless custody holds a live sign-in of another token, which a process of the user may never swap.
 */
function importVerb(kind: 'login' | 'sso') {
  return async (deps: CustodyDeps, {caller, uid}: SudoCaller): Promise<string> => {
    const {cache, key} = readJson(deps)
    const keyOk =
      typeof key === 'string' && (kind === 'sso' ? key !== '' && key.length <= 2048 : LOGIN_SESSION.test(key))
    if (!keyOk || typeof cache !== 'string') {
      throw refusal(
        'usage',
        'stdin must hold the sign-in (session name, start URL or login_session ARN) and the cache document',
      )
    }

    const store = storeFor(deps, uid)
    await importMove(store, deps.clock, {key, kind, text: cache})
    await auditOf(deps, store).record({callerPid: caller.pid, custody: true, event: 'migrate', imported: kind, key})
    return JSON.stringify({stored: true}) + '\n'
  }
}

/** `drop-sessions`: cached STS credentials only (the next run asks STS again); any process of the user may. */
async function dropSessionsVerb(deps: CustodyDeps, {uid}: SudoCaller): Promise<string> {
  const {accounts} = readJson(deps)
  if (!Array.isArray(accounts) || accounts.length > 1000) {
    throw refusal('usage', 'stdin must list the session accounts to drop')
  }

  const store = storeFor(deps, uid)
  const cleared: string[] = []
  for (const account of accounts) {
    if (typeof account !== 'string' || !isSessionAccount(account) || !PROFILE.test(account.replace(/^\w+:/, ''))) {
      throw refusal('usage', 'only session:<profile> and role:<profile> items can be dropped')
    }

    if (await store.delete(account)) cleared.push(account) // eslint-disable-line no-await-in-loop -- small files
  }

  return JSON.stringify({cleared}) + '\n'
}

const USAGE =
  'Usage: av-custody view | store | checkout | rotate | key-ages [--offline] | remove | drop-sessions | pending | ' +
  'approve <id> | deny <id> | sso-login | sso-logout | sso-import | login-import | release --profile <name> --run <id>   (run through sudo by av)'

const VERBS: Record<string, (deps: CustodyDeps, sudo: SudoCaller, args: string[]) => Promise<string>> = {
  approve: approveVerb,
  checkout: checkoutVerb,
  deny: denyVerb,
  'drop-sessions': dropSessionsVerb,
  'key-ages': keyAgesVerb,
  'login-import': importVerb('login'),
  pending: pendingVerb,
  release: (deps, sudo, args) => releaseVerb(args, deps, sudo),
  remove: removeVerb,
  rotate: rotateVerb,
  'sso-import': importVerb('sso'),
  'sso-login': ssoLoginVerb,
  'sso-logout': ssoLogoutVerb,
  store: storeVerb,
  view: viewVerb,
}

/** The verbs the password-guarded `<entry>-auth` serves: the ones that hand a key out or approve a held run. */
const AUTH_VERBS = new Set(['approve', 'checkout', 'rotate'])

/** Best effort: a refusal of a known user's call goes to that user's root-owned audit log in custody. */
async function auditRefusal(
  deps: CustodyDeps,
  sudo: SudoCaller,
  event: {detail: string; reason: string; verb: string | undefined},
): Promise<void> {
  try {
    const store = storeFor(deps, sudo.uid)
    await new FileAuditLog(store.dir, () => deps.clock.now(), {store}).record({
      event: 'refusal',
      ...event,
      callerPid: sudo.caller.pid,
      custody: true,
    })
  } catch {
    // The refusal is on stderr already, and nothing was released.
  }
}

/** The whole entry point. Returns the exit code; refusals print one line with a reason code on stderr. */
export async function custodyMain(argv: string[], deps: CustodyDeps): Promise<number> {
  const [verb, ...rest] = argv
  let sudo: null | SudoCaller = null
  try {
    if (deps.euid !== 0) throw refusal('custody-not-sudo', 'av-custody must run as root through sudo')
    const run = verb === undefined || !Object.hasOwn(VERBS, verb) ? undefined : VERBS[verb]
    if (!run) {
      throw refusal('usage', `unknown verb ${JSON.stringify(String(verb).slice(0, 20))}`)
    }

    if (authenticated(deps) && !AUTH_VERBS.has(verb!)) {
      throw refusal('usage', `the -auth entry point serves approve, checkout and rotate only, not ${verb}`)
    }

    // The root launcher asks the password for a held run by running sudo as the user: its caller is root.
    sudo = findSudoCaller(deps, {rootCaller: verb === 'approve'})
    deps.stdout.write(await run(deps, sudo, rest))
    return EXIT.ok
  } catch (error) {
    const {code, line} = await reportError(error, deps, sudo, verb)
    deps.stderr.write(line + '\n')
    return code
  }
}

/**
 * The root launcher's own answer to its run's credential_process (release-server.ts): `pid` is the entry script
 * that sudo started for the AWS CLI, waiting on the launcher's fast path. The same checks and answer as
 * `av-custody release`, made about that process: the credential_process document, or `<exit code> <refusal line>`.
 */
export async function serveRelease(
  deps: CustodyDeps,
  pid: number,
  run: {id: string; profile: string},
): Promise<string> {
  let sudo: null | SudoCaller = null
  try {
    const env = deps.table.environ(pid) ?? {}
    sudo = findSudoCaller({...deps, env: {SUDO_UID: env.SUDO_UID}, pid})
    return await releaseRun(deps, sudo, {profile: run.profile, run: run.id})
  } catch (error) {
    const {code, line} = await reportError(error, deps, sudo, 'release')
    return `${code} ${line}`
  }
}

/**
 * The one stderr line for a refusal (audited when the caller is known) or a failure (an AvError's words, never a
 * secret: AvError messages hold none), and its exit code.
 */
async function reportError(
  error: unknown,
  deps: CustodyDeps,
  sudo: null | SudoCaller,
  verb: string | undefined,
): Promise<{code: number; line: string}> {
  if (error instanceof AvError && error.refusal) {
    if (sudo) await auditRefusal(deps, sudo, {detail: error.message, reason: error.reason!, verb})
    const told = error.reason === 'usage' ? refusal('usage', error.message, {suggestion: USAGE}) : error
    return {code: error.exit, line: formatError(told, {oneLine: true, program: 'av custody'})}
  }

  const av = error instanceof AvError ? error : null
  const message = av ? av.message : 'internal error'
  const suggestion = av?.suggestion ? ` ${av.suggestion}` : ''
  const code = av?.code === 'conflict' || av?.code === 'refused' ? EXIT.refused : EXIT.failed
  return {code, line: `av custody: failed (${av?.code ?? 'internal'}): ${message}.${suggestion}`}
}

/** Read at most STDIN_MAX_BYTES of stdin. */
function readStdin(): string {
  const chunks: Buffer[] = []
  const buffer = Buffer.alloc(4096)
  let total = 0
  for (;;) {
    let n: number
    try {
      n = readSync(0, buffer)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') continue
      if ((error as NodeJS.ErrnoException).code === 'EOF') break
      throw error
    }

    if (n === 0) break
    total += n
    if (total > STDIN_MAX_BYTES) throw refusal('usage', 'stdin is too large')
    chunks.push(Buffer.from(buffer.subarray(0, n)))
  }

  return Buffer.concat(chunks).toString('utf8')
}

/** Home and primary group of `uid` from /etc/passwd (sudo reset HOME to root's). */
function homeOf(uid: number): {gid: number; home: string} {
  const entry = passwdEntry(uid)
  if (!entry?.home) throw new AvError('not-found', `uid ${uid} has no entry in /etc/passwd`)
  return {gid: entry.gid, home: entry.home}
}

export function realCustodyDeps(): CustodyDeps {
  const {clock, env, euid, pid, stderr, stdout, table, trustFs} = processWorld()
  return {
    clock,
    env,
    euid,
    helperDeps,
    homeOf,
    pid,
    readAsUser: (uid, gid, file) => readAsUser(uid, gid, file, 64 * 1024),
    rotateApis() {
      env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
      return {callerIdentity: sdkCallerIdentity, iam: queryIam}
    },
    stderr,
    stdin: readStdin,
    stdout,
    table,
    terminalOf,
    trustFs,
  }
}

/**
 * The terminal of the process that ran sudo, from its controlling tty in /proc (a pts or a virtual console), when
 * it is a character device that user owns. Root asks there, not on its own /dev/tty: with sudo's `use_pty` that is
 * a pty of sudo's that nothing the person types reaches.
 */
export function terminalOf(pid: number, uid: number): null | string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const ttyNr = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[4])
    const device = ttyDevice(ttyNr)
    if (device === null) return null
    const facts = statSync(device)
    return facts.isCharacterDevice() && facts.uid === uid && facts.rdev === ttyNr ? device : null
  } catch {
    return null
  }
}

/** /proc's tty_nr as a device path: Unix98 ptys (majors 136–143) and virtual consoles (major 4, minors 1–63). */
export function ttyDevice(ttyNr: number): null | string {
  if (!Number.isSafeInteger(ttyNr) || ttyNr <= 0) return null
  const major = (ttyNr >> 8) & 0xf_ff
  const minor = (ttyNr & 0xff) | ((ttyNr >> 12) & 0xf_ff_00)
  if (major >= 136 && major <= 143) return `/dev/pts/${(major - 136) * 256 + minor}`
  if (major === 4 && minor >= 1 && minor <= 63) return `/dev/tty${minor}`
  return null
}

export async function main(argv: string[]): Promise<number> {
  return custodyMain(argv, realCustodyDeps())
}

// Run directly by the entry script: `node <av>/dist/lib/main/custody-main.js <verb> …`.
if (startedAs(import.meta.url, 'custody-main')) {
  process.on('SIGUSR1', () => {})
  // eslint-disable-next-line unicorn/prefer-top-level-await -- root-launch-main.cjs bundles this module: CommonJS has none
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code
  })
}
