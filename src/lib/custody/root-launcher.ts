/**
 * The root launcher (custody mode): what the `aws` shim and `av run` start through `sudo -n <prefix>/libexec/
 * av-launch aws <args…>`. sudo resets the environment and the user cannot trace, read, write or signal a root
 * process, so this is the one launcher an agent running as the user cannot enter. Everything that must hold
 * against the agent is decided here:
 *
 *   1. gate: root classifies the argv itself (the user's stricter decisions read with the user's rights);
 *   2. approval: a held command runs only after the user's password, asked by sudo for this one run (on this
 *      terminal, or `av approve ID` from another one), or a root-configured approver program; never a `y`;
 *   3. sealed runtime: a root-owned HOME with the generated config, an allowlisted environment, no token;
 *   4. the run record (run-record.ts) that the release verb checks the asking CLI against;
 *   5. the AWS CLI started as the user (uid and gid; supplementary groups dropped) through an interpreter copy
 *      users may execute but not read, which the kernel makes non-dumpable: its environ and memory are closed to
 *      the user. This process stays its parent, forwards signals and returns its exit code.
 */
import type {ChildProcess} from 'node:child_process'

import path from 'node:path'

import type {AuditSink} from '../audit/audit.js'
import type {Clock} from '../core/clock.js'
import type {CustodyPolicy, Decision, Policy} from '../core/policy.js'
import type {ProcessTable} from '../core/process-table.js'
import type {Trace} from '../core/trace.js'
import type {ApprovalAnswer, ApprovalRequest} from '../gate/types.js'
import type {Classify} from '../run/launcher.js'
import type {Output} from '../world/process-world.js'
import type {RunBinding, RunStore} from './run-record.js'

import {parseAwsProfiles} from '../aws/aws-profiles.js'
import {buildChildEnv, buildSealedConfig, checkProfileName, ignoredSettingsNotice} from '../aws/sealed-runtime.js'
import {AvError, refusal} from '../core/errors.js'
import {userConfigFile as avSettingsFile, awsConfigFile} from '../core/paths.js'
import {relaySignals, type RunningChild, signalExit, type SignalSource} from '../core/relay.js'
import {checkRootOwned, type TrustFs} from '../core/trust.js'
import {approvalRequestFor} from '../gate/approver.js'
import {isElevatedRun} from '../gate/rules.js'
import {pinInputFile, waitFor} from '../run/launcher.js'
import {discard, handOff, isWaiting, type Prewarmed} from '../run/prewarm.js'
import {hashArgv, RUN_TOKEN_LIFETIME_MS} from '../run/token.js'
import {isMfaSession} from '../sessions/session-settings.js'
import {DEFAULT_APPROVAL_TIMEOUT_SECONDS, DEFAULT_RUN_DIR} from './run-record.js'
import {findSudoCaller, SUDO_EXE, type SudoCallerDeps} from './sudo-caller.js'

/** The AWS CLI's alias file under the user's home: its settings are not honoured in a sealed run (a notice says so). */
const ALIAS_FILE = '.aws/cli/alias'

/**
 * The user's variables the launch entry passes on (sudo's env_keep for it names exactly these, install.ts): they
 * choose a profile, a region, an output format, a locale or a terminal. Nothing here loosens anything; the CLI
 * gets them only through buildChildEnv's own allowlist.
 */
export const LAUNCH_ENV = [
  'AV_TRACE',
  'AWS_CONFIG_FILE',
  'AWS_DEFAULT_OUTPUT',
  'AWS_DEFAULT_PROFILE',
  'AWS_DEFAULT_REGION',
  'AWS_PROFILE',
  'AWS_REGION',
  'COLUMNS',
  'LANG',
  'LC_ALL',
  'LC_COLLATE',
  'LC_CTYPE',
  'LC_MESSAGES',
  'LC_MONETARY',
  'LC_NUMERIC',
  'LC_TIME',
  'LINES',
  'NO_COLOR',
  'TERM',
  'TZ',
] as const

export interface UserAccount {
  uid: number
  gid: number
  home: string
  name: string
}

/** What the root launcher asks of a person, and for which run. */
export interface RootApprovalInput {
  request: ApprovalRequest
  binding: RunBinding
  /** The run would get the durable key: only the user's password counts, not an approver program. */
  elevated: boolean
  user: UserAccount
  policy: Policy
  runs: RunStore
  timeoutMs: number
}

export interface RootLaunchDeps extends SudoCallerDeps {
  euid: number
  clock: Clock
  stderr: Output
  /** The root-owned policy the entry script names (AV_POLICY baked in at install). */
  loadPolicy(): {policy: Policy; warnings: string[]}
  account(uid: number): UserAccount
  /** Read a file with the user's rights, never root's (null when it cannot be read). */
  readAsUser(user: UserAccount, file: string): Buffer | null
  /**
   * Read these files with the user's rights in one go, for readAsUser and userDecisions to answer from later in
   * this run (each switch of ids costs the root launcher a few ms).
   */
  prefetchAsUser?(user: UserAccount, files: string[]): void
  /** The launcher's working directory (the user's, sudo keeps it). */
  cwd: string
  classify: Classify
  userDecisions(user: UserAccount): {decisions: Record<string, Decision>; warnings: string[]}
  runs(runDir: string, uid: number): RunStore
  approve(input: RootApprovalInput): Promise<ApprovalAnswer>
  audit(uid: number): AuditSink
  /** Start the CLI as the user: uid and gid set, supplementary groups dropped, stdio inherited. */
  spawnAsUser(
    argv: string[],
    options: {cwd: string; env: Record<string, string>; gid: number; uid: number},
  ): ChildProcess
  signals: SignalSource
  signalReachedChild(signal: NodeJS.Signals): boolean
  /**
   * Answer this run's credential_process from this process (the entry script's fast path finds `dir`), so a release
   * costs no second root Node process; without it the entry point answers as it always can.
   */
  serveReleases?(dir: string, run: {id: string; profile: string}): {stop(): void}
  /** AV_TRACE=1: each phase's milliseconds on stderr (trace.ts). */
  trace?: Trace
  /**
   * The CLI's interpreter the entry started before this launcher loaded, waiting for its run (prewarm.ts). Used
   * only for the runtime and user this launcher resolves itself; killed unused otherwise, and on every refusal.
   */
  prewarmed?: null | Prewarmed
}

/** The allowlisted launch variables from sudo's reset environment. */
export function launchEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const picked: Record<string, string> = {}
  for (const name of LAUNCH_ENV) {
    const value = env[name]
    if (value !== undefined) picked[name] = value
  }

  return picked
}

/** The AWS CLI argv root runs: custody's non-dumpable copy when install made one; every path root-owned. */
export function rootRuntime(policy: Policy, custody: CustodyPolicy, fs: TrustFs): string[] {
  const argv = custody.awsCli ?? policy.awsCli
  if (!argv) {
    throw new AvError('runtime-not-found', 'the av policy names no AWS CLI (awsCli)', {
      suggestion: 'Run `sudo av install` again: it names the AWS CLI in the policy.',
    })
  }

  for (const element of argv.filter((a) => a.startsWith('/'))) {
    const verdict = checkRootOwned(element, fs)
    if (!verdict.ok) {
      throw new AvError('runtime-untrusted', `the AWS CLI is not root-controlled: ${verdict.path} ${verdict.reason}`, {
        suggestion: 'Run `sudo av install` again.',
      })
    }
  }

  return argv
}

/** Who asked, for the person approving: the processes above sudo, nearest first. */
function ancestry(table: ProcessTable, pid: number): ApprovalRequest['chain'] {
  const chain: ApprovalRequest['chain'] = []
  let current = pid
  while (current > 1 && chain.length < 6) {
    const snapshot = table.snapshot(current)
    if (!snapshot) break
    chain.push({name: path.basename(snapshot.exe ?? snapshot.argv[0] ?? '?'), pid: current})
    current = snapshot.ppid
  }

  return chain
}

interface Prepared {
  args: string[]
  /** Root's audit trail for this user. */
  audit: AuditSink
  binding: RunBinding
  custody: CustodyPolicy
  elevated: boolean
  env: Record<string, string>
  policy: Policy
  profile: string
  /** The user's run and approval records (policy custody.runDir). */
  runs: RunStore
  runtime: string[]
  user: UserAccount
  /** The user's AWS config (read with the user's rights; null when there is none) and where it is. */
  userConfig: null | string
  userConfigFile: string
}

/** Everything up to the approval: who, which policy, the root-side gate. Throws a refusal for deny. */
async function gateAsRoot(argv: string[], deps: RootLaunchDeps): Promise<Prepared & {request: ApprovalRequest | null}> {
  const [program, ...rawArgs] = argv
  if (program !== 'aws') {
    throw new AvError('usage', 'av-launch runs the AWS CLI only: av-launch aws <service> <operation> …', {
      suggestion: 'Use the `aws` launcher or `av run -- aws …`.',
    })
  }

  // A root process may start the launcher for a user (runuser, a service manager): root is outside the threat model.
  const {caller, uid} = findSudoCaller(deps, {rootCaller: true})
  const user = deps.account(uid)
  const loaded = deps.loadPolicy()
  for (const warning of loaded.warnings) deps.stderr.write(`av: warning: ${warning}\n`)
  const {policy} = loaded
  const {custody} = policy
  if (!custody) {
    throw new AvError('refused', 'the av policy names no custody: the root launcher has nothing to run with', {
      suggestion: 'Run `sudo av install` again.',
    })
  }

  const env = launchEnv(deps.env)
  const runtime = rootRuntime(policy, custody, deps.trustFs)
  const readText = (file: string): string => {
    const bytes = deps.readAsUser(user, path.resolve(deps.cwd, file))
    if (bytes === null) throw new Error(`cannot read ${file}`)
    return bytes.toString('utf8')
  }

  const userConfigFile = prefetchUserFiles(deps, user, env)
  const user_ = deps.userDecisions(user)
  for (const warning of user_.warnings) deps.stderr.write(`av: warning: ${warning}\n`)
  const {decision, parsed, warnings} = deps.classify(rawArgs, {
    env,
    home: user.home,
    policy,
    readFile: readText,
    userDecisions: user_.decisions,
  })
  for (const warning of warnings ?? []) deps.stderr.write(`av: warning: ${warning}\n`)
  const {profile} = decision
  checkProfileName(profile)
  const self = deps.table.snapshot(deps.pid)
  if (!self) throw new AvError('internal', `cannot read the root launcher's own process entry (pid ${deps.pid})`)
  const binding: RunBinding = {argvHash: hashArgv(rawArgs), launcherPid: deps.pid, launcherStart: self.startTime}
  // A command session credentials cannot perform gets the durable key for this run (after the password); IAM on a
  // profile whose session av gets with MFA runs on that session.
  const userConfig = deps.readAsUser(user, userConfigFile)?.toString('utf8') ?? null
  const mfaSession = isMfaSession(profile, parseAwsProfiles(userConfig ?? ''), policy)
  const elevated = isElevatedRun(decision, {mfaSession})
  const audit = deps.audit(uid)
  const gateEvent = {
    event: 'gate' as const,
    custody: true,
    decision: decision.decision,
    category: decision.category,
    rule: decision.rule,
    profile,
    service: decision.service,
    operation: decision.operation,
    argvHash: binding.argvHash,
    callerPid: caller.pid,
  }
  const {command} = approvalRequestFor({argv: rawArgs, chain: [], decision, parsed})
  if (decision.decision === 'deny') {
    await audit.record({...gateEvent, answer: null})
    throw new AvError('denied', `\`${command}\` is denied by the gate: ${decision.reason}`, {
      suggestion:
        'If it should run, an administrator can allow it in the root-owned /etc/av/policy.json ' +
        `("decisions": {"${decision.rule ?? decision.category ?? 'rule'}": "allow"}).`,
    })
  }

  // Held only for needing the long-term key, and an MFA session does it (IAM on an mfa_serial profile): a read.
  const heldForKeyOnly = decision.category === 'elevated' && !elevated
  const needsApproval = (decision.decision === 'approve' && !heldForKeyOnly) || elevated
  if (!needsApproval) await audit.record(gateEvent)
  const request = needsApproval
    ? approvalRequestFor({argv: rawArgs, chain: ancestry(deps.table, caller.pid), decision, parsed})
    : null
  const args = pinInputFile(rawArgs, parsed.inputFile)
  const runs = deps.runs(custody.runDir ?? DEFAULT_RUN_DIR, uid)
  return {
    args,
    audit,
    binding,
    custody,
    elevated,
    env,
    policy,
    profile,
    request,
    runs,
    runtime,
    user,
    userConfig,
    userConfigFile,
  }
}

/** Ask for the approval a held run needs; resolves when it may run, throws `denied` (126) otherwise. */
async function approveAsRoot(prepared: Prepared, request: ApprovalRequest, deps: RootLaunchDeps): Promise<void> {
  const {audit, binding, custody, elevated, policy, runs, user} = prepared
  const timeoutMs = (custody.approvalTimeoutSeconds ?? DEFAULT_APPROVAL_TIMEOUT_SECONDS) * 1000
  const answer = await deps.approve({binding, elevated, policy, request, runs, timeoutMs, user})
  await audit.record({
    event: 'gate',
    custody: true,
    decision: 'approve',
    category: request.category,
    rule: request.rule,
    profile: prepared.profile,
    argvHash: binding.argvHash,
    ...(elevated ? {elevated: true} : {}),
    answer,
  })
  if (answer === 'approved') return
  const why =
    answer === 'denied'
      ? 'it was not approved (no password, a wrong one, or `av deny`)'
      : 'no approval came in time (nobody typed the password, here or with `av approve`)'
  throw new AvError('denied', `\`${request.command}\` needs your approval (${request.reason}), and ${why}`, {
    suggestion:
      answer === 'denied'
        ? 'Nothing to do if that was intended; otherwise run it again and approve it with your password.'
        : 'Run it again and, while it waits, run the `av approve` it names in a terminal of your own.',
  })
}

/** The files a run reads as the user, read in one go: the AWS config (its path is returned), the alias file, av's settings. */
function prefetchUserFiles(deps: RootLaunchDeps, user: UserAccount, env: NodeJS.ProcessEnv): string {
  const userConfigFile = path.resolve(deps.cwd, awsConfigFile({env, home: user.home, platform: 'linux'}))
  deps.prefetchAsUser?.(user, [
    userConfigFile,
    path.join(user.home, ALIAS_FILE),
    avSettingsFile({env: {}, home: user.home, platform: 'linux'}),
  ])
  return userConfigFile
}

/** The whole root launcher: gate, approval, sealed run as the user. Resolves to the CLI's exit code. */
export async function launchAsRoot(argv: string[], deps: RootLaunchDeps): Promise<number> {
  if (deps.euid !== 0) throw refusal('custody-not-sudo', 'av-launch must run as root through sudo')
  deps.trace?.mark('start')
  try {
    const {request, ...prepared} = await gateAsRoot(argv, deps)
    deps.trace?.mark('gate')
    if (request) {
      await approveAsRoot(prepared, request, deps)
      deps.trace?.mark('approval')
    }

    return await runAsUser(prepared, deps)
  } finally {
    // Not handed a run (refused, denied, failed, or another runtime): it dies having run only the CLI's imports.
    discard(deps.prewarmed)
  }
}

/** The waiting interpreter, if it stands for exactly this run's runtime and user; otherwise it is killed now. */
function usablePrewarm(deps: RootLaunchDeps, runtime: string[], user: UserAccount): null | Prewarmed {
  const warm = deps.prewarmed
  if (!warm) return null
  const same =
    warm.uid === user.uid &&
    warm.gid === user.gid &&
    warm.runtime.length === runtime.length &&
    warm.runtime.every((arg, i) => arg === runtime[i]) &&
    isWaiting(warm)
  if (same) return warm
  discard(warm)
  return null
}

async function runAsUser(prepared: Prepared, deps: RootLaunchDeps): Promise<number> {
  const {args, audit, binding, custody, elevated, env, profile, runs, runtime, user, userConfig, userConfigFile} =
    prepared
  const notice = ignoredSettingsNotice(userConfig, deps.readAsUser(user, path.join(user.home, ALIAS_FILE)) !== null)
  if (notice) deps.stderr.write(notice + '\n')

  const relay = relaySignals(deps.signals, (signal) => deps.signalReachedChild(signal))
  const run = runs.createRun()
  const started = deps.clock.now()
  let server: undefined | {stop(): void}
  try {
    const config = buildSealedConfig(userConfig === null ? {} : parseAwsProfiles(userConfig), {
      avEntry: '',
      credentialProcess: [SUDO_EXE, '-n', custody.entry, 'release', '--profile', profile, '--run', run.id],
      profile,
    })
    const configFile = runs.writeConfig(run.home, config)
    const warm = usablePrewarm(deps, runtime, user)
    const cliArgv = warm ? warm.argv : [...runtime, ...args]
    runs.writeRecord({
      ...binding,
      v: 1,
      cliArgvHash: hashArgv(cliArgv),
      elevated,
      expires: started + RUN_TOKEN_LIFETIME_MS,
      id: run.id,
      profile,
      runtimeExe: deps.trustFs.realpath(runtime[0]!),
      uid: user.uid,
      userConfigFile,
    })
    server = deps.serveReleases?.(runs.serveDir(run.id), {id: run.id, profile})
    const childEnv = buildChildEnv(env, {configFile, home: run.home, profile})
    if (relay.pending) return signalExit(relay.pending)
    deps.trace?.mark('run-record')
    let child: RunningChild
    if (warm) {
      handOff(warm, {args, env: childEnv})
      child = warm.child
    } else {
      child = deps.spawnAsUser(cliArgv, {cwd: deps.cwd, env: childEnv, gid: user.gid, uid: user.uid})
    }

    relay.attach(child)
    const code = await waitFor(child)
    deps.trace?.mark('cli')
    await audit
      .record({
        event: 'run',
        custody: true,
        profile,
        argvHash: binding.argvHash,
        exitCode: code,
        ms: deps.clock.now() - started,
      })
      .catch((error: unknown) => deps.stderr.write(`av: warning: ${(error as Error).message}\n`))
    deps.trace?.mark('audit')
    return code
  } finally {
    server?.stop()
    relay.stop()
    runs.removeRun(run.id)
  }
}
