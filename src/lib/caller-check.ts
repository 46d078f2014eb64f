/**
 * The credential helper's verdict: may this caller have the keys? A pure function over facts the helper gathered
 * (token verdict, process snapshots, start environments, file trust verdicts, the config file's hash), so every
 * refusal is table-tested. The chain it accepts is exactly the one av builds:
 *
 *   launcher  node <root-owned av>/bin/run.js run -- aws …   pid + start time named in the token
 *     └─ AWS CLI runtime  <awsCli prefix> <aws args…>          argv hashed in the token, config hashed in the token
 *          └─ helper  av credential-helper aws --profile P      this process
 *
 * Each check has a stable reason code (refusal.ts); the detail says what failed without any secret, token or
 * argv content (argv can carry parameter values).
 */
import type {ProcessSnapshot} from './process-table.js'
import type {RefusalReason} from './refusal.js'
import type {TokenVerdict} from './token.js'

import {hashArgv} from './token.js'
import {checkRootOwned, checkRootOwnedPath, type TrustFs, type TrustVerdict} from './trust.js'

export const DEFAULT_AWS_CLI = ['/usr/bin/python3', '-I', '/usr/bin/aws']

export interface CallerFacts {
  token: TokenVerdict
  /** The helper's --profile. */
  profile: string
  helper: null | ProcessSnapshot
  parent: null | ProcessSnapshot
  grandparent: null | ProcessSnapshot
  /** Start environments; null when unreadable. Only consulted when `environReadable`. */
  parentEnv: null | Record<string, string>
  grandparentEnv: null | Record<string, string>
  /** False where the platform cannot read another process's environment (macOS): those checks are skipped. */
  environReadable: boolean
  /** The runtime argv prefix (policy `awsCli`, else DEFAULT_AWS_CLI). */
  runtimeArgv: string[]
  /** realpath of runtimeArgv[0]; null when it does not resolve. */
  runtimeExe: null | string
  /**
   * Trust verdicts by path, computed by the caller: checkRootOwned for the parent's and grandparent's exe and
   * each absolute path in runtimeArgv; checkRootOwnedPath for the launcher's entry script (grandparent argv[1]).
   * A path missing here counts as untrusted.
   */
  trust: Record<string, TrustVerdict>
  /** sha256 hex of the AWS config file the runtime reads (AWS_CONFIG_FILE), null when unreadable. */
  configHash: null | string
  /** The parent snapshotted again just before the answer is written. */
  recheck: null | ProcessSnapshot
}

export type CallerVerdict = {detail: string; ok: false; reason: RefusalReason} | {ok: true}

/**
 * The trust verdicts verifyCaller consults: checkRootOwned for the runtime's files and both processes'
 * executables; checkRootOwnedPath (every directory as written, no relative paths) for the launcher's script.
 */
export function collectTrust(
  input: {
    grandparent: null | ProcessSnapshot
    parent: null | ProcessSnapshot
    runtimeArgv: string[]
    runtimeExe: null | string
  },
  fs: TrustFs,
): Record<string, TrustVerdict> {
  const trust: Record<string, TrustVerdict> = Object.create(null)
  const files = [
    input.runtimeExe,
    input.parent?.exe,
    input.grandparent?.exe,
    ...input.runtimeArgv.filter((a) => a.startsWith('/')),
  ]
  for (const file of files) if (file) trust[file] = checkRootOwned(file, fs)
  const script = input.grandparent?.argv[1]
  if (script !== undefined) trust[script] = checkRootOwnedPath(script, fs)
  return trust
}

const TOKEN_DETAIL: Partial<Record<RefusalReason, string>> = {
  'token-missing': 'AV_RUN_TOKEN is not set (the helper was not started by an AWS CLI inside `av run`)',
  'token-malformed': 'AV_RUN_TOKEN is not an av run token',
  'token-bad-signature': "AV_RUN_TOKEN was not signed with this account's av token key",
  'token-expired': 'AV_RUN_TOKEN has expired (its run is over)',
  'token-not-yet-valid': 'AV_RUN_TOKEN was issued in the future (the clock stepped back)',
}

/** What a token refusal means, in words (never the token). */
export function describeTokenRefusal(reason: RefusalReason): string {
  return TOKEN_DETAIL[reason] ?? 'AV_RUN_TOKEN is not a valid token for this run'
}

const refuse = (reason: RefusalReason, detail: string): CallerVerdict => ({detail, ok: false, reason})

/** Variables that load code into Node (the launcher) before av's first line runs. */
const LAUNCHER_UNSAFE = [
  /^NODE_OPTIONS$/,
  /^NODE_REPL_EXTERNAL_MODULE$/,
  /^LD_PRELOAD$/,
  /^LD_LIBRARY_PATH$/,
  /^LD_AUDIT$/,
  /^DYLD_/,
  /^OPENSSL_(CONF|MODULES|ENGINES)$/,
]
/** Variables that load code into the AWS CLI runtime (python -I ignores PYTHONPATH, not LD_PRELOAD/OpenSSL). */
const RUNTIME_UNSAFE = [/^LD_/, /^DYLD_/, /^PYTHON/, /^OPENSSL_(CONF|MODULES|ENGINES)$/]

function unsafeNames(env: Record<string, string>, patterns: RegExp[]): string[] {
  return Object.keys(env)
    .filter((name) => patterns.some((p) => p.test(name)))
    .sort()
}

const trusted = (facts: CallerFacts, file: null | string | undefined): boolean =>
  typeof file === 'string' && Object.hasOwn(facts.trust, file) && facts.trust[file]?.ok === true

function why(facts: CallerFacts, file: string): string {
  const verdict = Object.hasOwn(facts.trust, file) ? facts.trust[file] : undefined
  return verdict && !verdict.ok ? `${verdict.path} ${verdict.reason}` : `${file} was not checked`
}

const startsWith = (argv: string[], prefix: string[]) => prefix.every((a, i) => argv[i] === a)

function checkRuntime(facts: CallerFacts, parent: ProcessSnapshot, argvHash: string): CallerVerdict | null {
  const {runtimeArgv, runtimeExe} = facts
  if (runtimeExe === null) return refuse('parent-not-runtime', `the AWS CLI runtime ${runtimeArgv[0]} does not exist`)
  if (parent.exe !== runtimeExe) {
    return refuse(
      'parent-not-runtime',
      `the calling process ${parent.pid} runs ${parent.exe ?? 'an unreadable executable'}, not the AWS CLI runtime ${runtimeExe}`,
    )
  }

  for (const file of [runtimeExe, ...runtimeArgv.filter((a) => a.startsWith('/'))]) {
    if (!trusted(facts, file))
      return refuse('parent-not-runtime', `the AWS CLI runtime is not root-controlled: ${why(facts, file)}`)
  }

  if (!startsWith(parent.argv, runtimeArgv) || parent.argv.length <= runtimeArgv.length) {
    return refuse(
      'argv-mismatch',
      `the calling process ${parent.pid} was not started as the AWS CLI (${runtimeArgv.join(' ')} …)`,
    )
  }

  if (hashArgv(parent.argv) !== argvHash) {
    return refuse(
      'argv-mismatch',
      `the calling process ${parent.pid} runs other AWS CLI arguments than this run's token was issued for`,
    )
  }

  return null
}

function checkLauncher(facts: CallerFacts, gp: ProcessSnapshot): CallerVerdict | null {
  if (gp.exe === null || !(gp.exe.split('/').at(-1) ?? '').startsWith('node')) {
    return refuse(
      'launcher-untrusted',
      `the launcher ${gp.pid} does not run Node.js (${gp.exe ?? 'unreadable executable'})`,
    )
  }

  if (!trusted(facts, gp.exe))
    return refuse('launcher-untrusted', `the launcher's Node.js is not root-controlled: ${why(facts, gp.exe)}`)
  const [, script, command] = gp.argv
  if (script === undefined || script.startsWith('-') || command !== 'run') {
    return refuse(
      'launcher-untrusted',
      `the launcher ${gp.pid} was not started as \`node <av>/bin/run.js run …\` (Node options before the script, or another command)`,
    )
  }

  if (!trusted(facts, script))
    return refuse('launcher-untrusted', `the launcher's av script is not root-controlled: ${why(facts, script)}`)
  return null
}

function checkEnvironments(facts: CallerFacts, parent: ProcessSnapshot, gp: ProcessSnapshot): CallerVerdict | null {
  if (!facts.environReadable) return null
  if (facts.grandparentEnv === null)
    return refuse('launcher-env-unsafe', `the launcher ${gp.pid}'s environment cannot be read`)
  const launcherBad = unsafeNames(facts.grandparentEnv, LAUNCHER_UNSAFE)
  if (launcherBad.length > 0) {
    return refuse('launcher-env-unsafe', `the launcher ${gp.pid} was started with ${launcherBad.join(', ')} set`)
  }

  if (facts.parentEnv === null)
    return refuse('runtime-env-unsafe', `the AWS CLI ${parent.pid}'s environment cannot be read`)
  const runtimeBad = unsafeNames(facts.parentEnv, RUNTIME_UNSAFE)
  if (runtimeBad.length > 0) {
    return refuse('runtime-env-unsafe', `the AWS CLI ${parent.pid} was started with ${runtimeBad.join(', ')} set`)
  }

  return null
}

function tracedOne(...procs: ProcessSnapshot[]): CallerVerdict | null {
  const traced = procs.find((p) => p.tracerPid !== 0)
  return traced ? refuse('traced', `process ${traced.pid} is being traced (tracer ${traced.tracerPid})`) : null
}

function checkSameUser(helper: ProcessSnapshot, parent: ProcessSnapshot, gp: ProcessSnapshot): CallerVerdict | null {
  if (parent.uid === helper.uid && gp.uid === helper.uid) return null
  return refuse('uid-mismatch', `the launcher, the AWS CLI and the helper do not all run as uid ${helper.uid}`)
}

function checkConfig(facts: CallerFacts, configHash: string): CallerVerdict | null {
  if (facts.configHash === configHash) return null
  return refuse('config-mismatch', "the AWS CLI's config file is not the one this run's launcher generated")
}

export function verifyCaller(facts: CallerFacts): CallerVerdict {
  const {token} = facts
  if (!token.ok) return refuse(token.reason, describeTokenRefusal(token.reason))
  const {claims} = token
  if (claims.profile !== facts.profile) {
    return refuse('profile-mismatch', `this run's token is for profile "${claims.profile}", not "${facts.profile}"`)
  }

  const {grandparent: gp, helper, parent} = facts
  if (!helper) return refuse('self-unknown', 'the helper cannot read its own process entry')
  if (!parent || helper.ppid !== parent.pid) return refuse('parent-gone', 'the process that called the helper is gone')
  const runtime = tracedOne(helper, parent) ?? checkRuntime(facts, parent, claims.argvHash)
  if (runtime) return runtime

  if (!gp || parent.ppid !== claims.launcherPid || gp.pid !== claims.launcherPid) {
    return refuse(
      'grandparent-not-launcher',
      `the AWS CLI ${parent.pid} was not started by this run's launcher ${claims.launcherPid}`,
    )
  }

  if (gp.startTime !== claims.launcherStart) {
    return refuse(
      'launcher-start-mismatch',
      `process ${gp.pid} is not the launcher this token was issued to (it started at another time)`,
    )
  }

  const launcher =
    checkLauncher(facts, gp) ??
    tracedOne(gp) ??
    checkSameUser(helper, parent, gp) ??
    checkEnvironments(facts, parent, gp) ??
    checkConfig(facts, claims.configHash)
  if (launcher) return launcher

  const again = facts.recheck
  if (!again || again.startTime !== parent.startTime || again.ppid !== parent.ppid) {
    return refuse('parent-gone', `the AWS CLI ${parent.pid} exited or changed before the answer was written`)
  }

  return {ok: true}
}
