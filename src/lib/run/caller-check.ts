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
import type {ProcessSnapshot} from '../core/process-table.js'
import type {RefusalReason} from '../core/refusal.js'
import type {TokenVerdict} from './token.js'

import {checkRootOwned, checkRootOwnedPath, type TrustFs, type TrustVerdict} from '../core/trust.js'
import {runtimeOfPrewarm} from './prewarm.js'
import {hashArgv} from './token.js'

export const DEFAULT_AWS_CLI = ['/usr/bin/python3', '-I', '/usr/bin/aws']

/** An AWS CLI runtime the launcher may have started: its argv prefix and the real path of argv[0]. */
export interface RuntimeCandidate {
  argv: string[]
  /** realpath of argv[0]; null when it does not resolve. */
  exe: null | string
}

/**
 * The runtimes the launcher chooses from when the policy names none (same order as the launcher): Debian's
 * package run by the system python3 (any /usr/bin/python3.N its shebang names), then the official installer.
 */
export function builtinRuntimes(platform: NodeJS.Platform, parentArgv0?: string): string[][] {
  if (platform === 'darwin') return [['/usr/local/aws-cli/aws']]
  const debian = [DEFAULT_AWS_CLI]
  if (
    parentArgv0 !== undefined &&
    parentArgv0 !== DEFAULT_AWS_CLI[0] &&
    /^\/usr\/bin\/python3\.\d+$/.test(parentArgv0)
  ) {
    debian.push([parentArgv0, '-I', '/usr/bin/aws'])
  }

  return [...debian, ['/usr/local/aws-cli/v2/current/bin/aws']]
}

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
  /** The runtimes the launcher may have started: policy `awsCli` alone, else builtinRuntimes. */
  runtimes: RuntimeCandidate[]
  /**
   * Trust verdicts by path, computed by the caller: checkRootOwned for the parent's and grandparent's exe and
   * each absolute path in the runtimes' argv; checkRootOwnedPath for the launcher's entry script (grandparent argv[1]).
   * A path missing here counts as untrusted.
   */
  trust: Record<string, TrustVerdict>
  /** sha256 hex of the AWS config file the runtime reads (AWS_CONFIG_FILE), null when unreadable. */
  configHash: null | string
  /** The parent snapshotted again just before the answer is written. */
  recheck: null | ProcessSnapshot
}

/** What is known before the token is verified. */
export type ChainFacts = Omit<CallerFacts, 'configHash' | 'profile' | 'recheck' | 'token'>

export type CallerVerdict = {detail: string; ok: false; reason: RefusalReason} | {ok: true}

/** Each runtime argv with the real path of its argv[0] (null when it does not resolve). */
export function resolveRuntimes(argvs: string[][], fs: Pick<TrustFs, 'realpath'>): RuntimeCandidate[] {
  return argvs.map((argv) => {
    try {
      return {argv, exe: fs.realpath(argv[0]!)}
    } catch {
      return {argv, exe: null}
    }
  })
}

/**
 * The trust verdicts verifyCaller consults: checkRootOwned for the runtime's files and both processes'
 * executables; checkRootOwnedPath (every directory as written, no relative paths) for the launcher's script.
 */
export function collectTrust(
  input: {grandparent: null | ProcessSnapshot; parent: null | ProcessSnapshot; runtimes: RuntimeCandidate[]},
  fs: TrustFs,
): Record<string, TrustVerdict> {
  const trust: Record<string, TrustVerdict> = Object.create(null)
  const files = [
    input.parent?.exe,
    input.grandparent?.exe,
    ...input.runtimes.flatMap((r) => [r.exe, ...r.argv.filter((a) => a.startsWith('/'))]),
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

const trusted = (facts: ChainFacts, file: null | string | undefined): boolean =>
  typeof file === 'string' && Object.hasOwn(facts.trust, file) && facts.trust[file]?.ok === true

function why(facts: ChainFacts, file: string): string {
  const verdict = Object.hasOwn(facts.trust, file) ? facts.trust[file] : undefined
  return verdict && !verdict.ok ? `${verdict.path} ${verdict.reason}` : `${file} was not checked`
}

const startsWith = (argv: string[], prefix: string[]) => prefix.every((a, i) => argv[i] === a)

function checkRuntime(facts: ChainFacts, parent: ProcessSnapshot): CallerVerdict | null {
  const sameExe = facts.runtimes.filter((r) => r.exe !== null && r.exe === parent.exe)
  if (sameExe.length === 0) {
    const known = facts.runtimes.map((r) => r.exe ?? `${r.argv[0]} (missing)`).join(', ')
    return refuse(
      'parent-not-runtime',
      `the calling process ${parent.pid} runs ${parent.exe ?? 'an unreadable executable'}, not an AWS CLI runtime (${known})`,
    )
  }

  // Started by the launcher as `<runtime> <args>`, or as the interpreter that imported while it gated (prewarm.ts):
  // `<interpreter> <flags> -c <program> <script> <args>`, two words more than the runtime.
  const warm = runtimeOfPrewarm(parent.argv)
  const runtime = sameExe.find((r) =>
    warm
      ? warm.length === r.argv.length && startsWith(warm, r.argv) && parent.argv.length > r.argv.length + 2
      : startsWith(parent.argv, r.argv) && parent.argv.length > r.argv.length,
  )
  if (!runtime) {
    return refuse(
      'argv-mismatch',
      `the calling process ${parent.pid} was not started as the AWS CLI (${sameExe[0]!.argv.join(' ')} …)`,
    )
  }

  for (const file of [runtime.exe!, ...runtime.argv.filter((a) => a.startsWith('/'))]) {
    if (!trusted(facts, file)) {
      return refuse('parent-not-runtime', `the AWS CLI runtime is not root-controlled: ${why(facts, file)}`)
    }
  }

  return null
}

function checkLauncher(facts: ChainFacts, gp: ProcessSnapshot): CallerVerdict | null {
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

function checkEnvironments(facts: ChainFacts, parent: ProcessSnapshot, gp: ProcessSnapshot): CallerVerdict | null {
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

/** The helper and its parent (the AWS CLI runtime): present, untraced, a root-controlled runtime. */
function checkCli(facts: ChainFacts): CallerVerdict | null {
  const {helper, parent} = facts
  if (!helper) return refuse('self-unknown', 'the helper cannot read its own process entry')
  if (!parent || helper.ppid !== parent.pid) return refuse('parent-gone', 'the process that called the helper is gone')
  return tracedOne(helper, parent) ?? checkRuntime(facts, parent)
}

/** The grandparent: av's launcher run by a root-owned Node.js, untraced, same user, clean start environments. */
function checkLauncherChain(facts: ChainFacts): CallerVerdict | null {
  const {grandparent: gp, helper, parent} = facts
  if (!gp || !helper || !parent || parent.ppid !== gp.pid) {
    return refuse('grandparent-not-launcher', `the AWS CLI ${parent?.pid} was not started by av's launcher`)
  }

  return (
    checkLauncher(facts, gp) ??
    tracedOne(gp) ??
    checkSameUser(helper, parent, gp) ??
    checkEnvironments(facts, parent, gp)
  )
}

/**
 * The launcher alone, for custody's `mint` (which runs as root one sudo hop below it): `node <root-owned
 * av>/bin/run.js run …` on a root-owned Node.js, untraced, started without code-loading variables. `trust` holds
 * checkRootOwned for its exe and checkRootOwnedPath for its script (collectTrust with it as the grandparent).
 */
export function verifyLauncherProcess(
  launcher: ProcessSnapshot,
  env: null | Record<string, string>,
  trust: Record<string, TrustVerdict>,
): CallerVerdict {
  const facts = {trust} as ChainFacts
  const bad = env === null ? null : unsafeNames(env, LAUNCHER_UNSAFE)
  return (
    checkLauncher(facts, launcher) ??
    tracedOne(launcher) ??
    (env === null
      ? refuse('launcher-env-unsafe', `the launcher ${launcher.pid}'s environment cannot be read`)
      : bad && bad.length > 0
        ? refuse('launcher-env-unsafe', `the launcher ${launcher.pid} was started with ${bad.join(', ')} set`)
        : null) ?? {ok: true}
  )
}

/**
 * The checks that need no token: the helper runs them before it touches the secret store, so an impostor gets
 * its precise reason and never causes a keychain access (or, on macOS, a keychain prompt).
 */
export function precheckCaller(facts: ChainFacts): CallerVerdict {
  return checkCli(facts) ?? checkLauncherChain(facts) ?? {ok: true}
}

function checkConfig(facts: CallerFacts, configHash: string): CallerVerdict | null {
  if (facts.configHash === configHash) return null
  return refuse('config-mismatch', "the AWS CLI's config file is not the one this run's launcher generated")
}

/** The whole verdict: the token, then the chain, then the chain's binding to the token, then the re-check. */
export function verifyCaller(facts: CallerFacts): CallerVerdict {
  const {token} = facts
  if (!token.ok) return refuse(token.reason, describeTokenRefusal(token.reason))
  const {claims} = token
  if (claims.profile !== facts.profile) {
    return refuse('profile-mismatch', `this run's token is for profile "${claims.profile}", not "${facts.profile}"`)
  }

  const cli = checkCli(facts)
  if (cli) return cli
  const {grandparent: gp, parent} = facts as {grandparent: null | ProcessSnapshot; parent: ProcessSnapshot}
  if (hashArgv(parent.argv) !== claims.argvHash) {
    return refuse(
      'argv-mismatch',
      `the calling process ${parent.pid} runs other AWS CLI arguments than this run's token was issued for`,
    )
  }

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

  const bound = checkLauncherChain(facts) ?? checkConfig(facts, claims.configHash)
  if (bound) return bound

  const again = facts.recheck
  if (!again || again.startTime !== parent.startTime || again.ppid !== parent.ppid) {
    return refuse('parent-gone', `the AWS CLI ${parent.pid} exited or changed before the answer was written`)
  }

  return {ok: true}
}
